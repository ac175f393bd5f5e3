"""The AfterShip connector through the conformance suite, against the AfterShip simulator."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any, ClassVar

from hub.connector import Cursor, WebhookRequest
from hub.sdk import HighWaterMark
from tests.conformance.suite import Harness, SourceConformance, WebhookConformance
from tests.simulators.aftership import API_KEY, BASE_PATH, WEBHOOK_SECRET, AfterShipSimulator, sign

_numbers = itertools.count(1)


class AfterShipHarness(Harness):
    connector: ClassVar[str] = "aftership"

    def start(self) -> None:
        self.sim = AfterShipSimulator()
        self.sim.start()

    def stop(self) -> None:
        self.sim.stop()

    def good_config(self) -> dict[str, Any]:
        return {
            "api_key": API_KEY,
            "base_url": self.sim.url + BASE_PATH,
            "webhook_secret": WEBHOOK_SECRET,
            "limit": 2,
            "timeout": 5,
        }

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**self.good_config(), "api_key": "asat_not_the_key_000"}

    def seed(self, count: int) -> None:
        for _ in range(count):
            n = next(_numbers)
            self.sim.add_tracking(f"1Z999AA1{n:010d}", "Exception", f"W{n:06d}", subtag="Exception_011")

    def far_future_cursor(self, cursor: Cursor) -> Cursor:
        return {"": HighWaterMark(datetime(2100, 1, 1, tzinfo=UTC)).dump()}

    def signed_webhook(self, config: Any, *, valid: bool) -> WebhookRequest:
        tracking = self.sim.add_tracking("9205590164917312", "AttemptFail", "W2608377")
        body = self.sim.webhook_body(tracking)
        sig = sign(WEBHOOK_SECRET if valid else "not-the-secret", body)
        return WebhookRequest(
            url="https://hub.example.com/webhooks/aftership-main",
            headers={"aftership-hmac-sha256": sig, "content-type": "application/json"},
            body=body,
            received_at=datetime(2026, 9, 2, 17, 40, tzinfo=UTC),
        )


class TestAfterShip(SourceConformance, WebhookConformance):
    harness = AfterShipHarness
