"""A receiver of the hub's generic webhook: checks signatures, records events like a careful consumer.

It keeps the events per case in arrival order, counts duplicates (same
``event_id`` delivered twice, which a real receiver would drop), and answers
401 to a bad signature.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from tests.simulators.base import Recorded, Reply, Simulator


class WebhookReceiver(Simulator):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret
        self.events: dict[str, dict[str, Any]] = {}  # event_id -> payload (first delivery)
        self.by_case: dict[str, list[int]] = {}  # case_id -> sequences in arrival order
        self.duplicates = 0
        self.bad_signatures = 0

    def handle(self, request: Recorded) -> Reply:
        stamp = request.headers.get("x-hub-timestamp", "")
        expected = (
            "sha256="
            + hmac.new(self.secret.encode(), stamp.encode() + b"." + request.body, hashlib.sha256).hexdigest()
        )
        if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
            self.bad_signatures += 1
            return Reply.json({"error": "bad signature"}, 401)
        event = request.json()
        if event.get("type") == "hub.ping":
            return Reply.json({"ok": True})
        assert request.headers.get("x-hub-event-id") == event["event_id"]
        if event["event_id"] in self.events:
            self.duplicates += 1
            return Reply.json({"ok": True, "duplicate": True})
        self.events[event["event_id"]] = event
        self.by_case.setdefault(event["case"]["case_id"], []).append(event["sequence"])
        return Reply.json({"ok": True})
