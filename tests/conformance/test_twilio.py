"""The Twilio connector through the conformance suite, against the Twilio simulator."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode

from hub.connector import Cursor, WebhookRequest
from hub.sdk import HighWaterMark
from tests.conformance.suite import Harness, SourceConformance, WebhookConformance
from tests.simulators.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioSimulator, signature

WEBHOOK_URL = "https://hub.example.com/webhooks/twilio-main"
_numbers = itertools.count(1)


class TwilioHarness(Harness):
    connector: ClassVar[str] = "twilio"

    def start(self) -> None:
        self.sim = TwilioSimulator()
        self.sim.start()

    def stop(self) -> None:
        self.sim.stop()

    def good_config(self) -> dict[str, Any]:
        return {
            "account_sid": ACCOUNT_SID,
            "auth_token": AUTH_TOKEN,
            "base_url": self.sim.url,
            "page_size": 2,
            "webhook_url": WEBHOOK_URL,
            "timeout": 5,
        }

    def bad_credentials_config(self) -> dict[str, Any]:
        return {**self.good_config(), "auth_token": "not-the-auth-token-42"}

    def seed(self, count: int) -> None:
        for _ in range(count):
            n = next(_numbers)
            self.sim.add_voicemail(
                f"hi this is caller {n} my order w{n:04d} never arrived", f"+1415555{n:04d}"
            )

    def far_future_cursor(self, cursor: Cursor) -> Cursor:
        return {"": HighWaterMark(datetime(2100, 1, 1, tzinfo=UTC)).dump()}

    def signed_webhook(self, config: Any, *, valid: bool) -> WebhookRequest:
        fields = {
            "AccountSid": ACCOUNT_SID,
            "CallSid": "CA" + "1" * 32,
            "RecordingSid": "RE" + "2" * 32,
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE{'2' * 32}",
            "TranscriptionSid": "TR" + "3" * 32,
            "TranscriptionText": "my parcel was left in the rain",
            "TranscriptionStatus": "completed",
            "From": "+14155550123",
            "To": "+14155550199",
        }
        body = urlencode(fields).encode()
        token = AUTH_TOKEN if valid else "someone-elses-token"
        sig = signature(token, WEBHOOK_URL, parse_qsl(body.decode()))
        return WebhookRequest(
            url="http://127.0.0.1:8000/webhooks/twilio-main",
            headers={"x-twilio-signature": sig, "content-type": "application/x-www-form-urlencoded"},
            body=body,
            received_at=datetime(2026, 8, 7, 2, 5, 33, tzinfo=UTC),
        )


class TestTwilio(SourceConformance, WebhookConformance):
    harness = TwilioHarness
