"""The Kuaidi100 connector through the conformance suite, against the Kuaidi100 simulator."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any, ClassVar

from hub.connector import Cursor, WebhookRequest
from tests.conformance.suite import Harness, SourceConformance, WebhookConformance
from tests.simulators.kuaidi100 import CUSTOMER, KEY, SALT, Kuaidi100Simulator

NUMBERS = [f"78312098475{n:02d}" for n in range(8)]


class Kuaidi100Harness(Harness):
    connector: ClassVar[str] = "kuaidi100"

    def start(self) -> None:
        self.sim = Kuaidi100Simulator()
        self.sim.start()
        self.turn = itertools.cycle(NUMBERS)

    def stop(self) -> None:
        self.sim.stop()

    def good_config(self) -> dict[str, Any]:
        return {
            "customer": CUSTOMER,
            "key": KEY,
            "salt": SALT,
            "numbers": [{"com": "zhongtong", "num": n} for n in NUMBERS],
            "base_url": self.sim.url,
            "timeout": 5,
        }

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**self.good_config(), "key": "not-the-key-000"}

    def seed(self, count: int) -> None:
        for _ in range(count):
            self.sim.add_checkpoint(next(self.turn), "2", "【上海市】快件异常，派件员联系不上收件人")

    def far_future_cursor(self, cursor: Cursor) -> Cursor:
        return {**cursor, **{n: "9999-12-31 23:59:59" for n in NUMBERS}}

    def signed_webhook(self, config: Any, *, valid: bool) -> WebhookRequest:
        self.sim.add_checkpoint("YT9693083639795", "5", "【深圳市】派件中", com="yuantong")
        body = self.sim.push_body("YT9693083639795", salt=None if valid else "not-the-salt")
        return WebhookRequest(
            url="https://hub.example.com/webhooks/kuaidi100-main",
            headers={"content-type": "application/x-www-form-urlencoded"},
            body=body,
            received_at=datetime(2026, 8, 15, 1, 13, 14, tzinfo=UTC),
        )


class TestKuaidi100(SourceConformance, WebhookConformance):
    harness = Kuaidi100Harness
