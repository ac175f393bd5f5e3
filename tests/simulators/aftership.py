"""An AfterShip Tracking API simulator (versioned base ``/tracking/2025-01``).

Follows aftership.com/docs/tracking and AfterShip/tracking-sdk-python (see
PROVIDERS.md): header ``as-api-key`` (401 ``Invalid API key.`` otherwise),
``GET /trackings`` with ``limit`` (≤ 200), ``cursor``, ``updated_at_min``,
``updated_at_max``, ``tag``, ``tracking_numbers``, ``order_id``; the envelope
``{"meta": {code, message, type}, "data": {"trackings": [...], "pagination":
{total, next_cursor, has_next_page}}}``, newest created first; rate-limit
headers ``X-RateLimit-Limit/-Remaining/-Reset`` (epoch seconds) on every
answer. Webhook bodies are signed with :func:`sign`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.simulators.base import Recorded, Reply, Simulator

__all__ = ["API_KEY", "BASE_PATH", "WEBHOOK_SECRET", "AfterShipSimulator", "sign"]

API_KEY = "asat_4c7e1b9d2f6a4e0b8c3d5f7a9b1c2d3e"
WEBHOOK_SECRET = "as-webhook-secret-7d1e"
BASE_PATH = "/tracking/2025-01"


def sign(secret: str, body: bytes) -> str:
    """``aftership-hmac-sha256`` of a webhook body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def _meta(code: int, message: str, type_: str) -> dict[str, Any]:
    return {"code": code, "message": message, "type": type_}


class AfterShipSimulator(Simulator):
    """One AfterShip organisation's trackings."""

    def __init__(self, api_key: str = API_KEY, webhook_secret: str = WEBHOOK_SECRET) -> None:
        super().__init__()
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.trackings: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        #: the time of the next change (one second apart)
        self.clock = datetime(2026, 9, 2, 8, 0, tzinfo=UTC)
        self.rate_limit = 10

    # -- seeding ---------------------------------------------------------------------------
    def _tick(self, at: datetime | None) -> datetime:
        if at is not None:
            return at
        self.clock += timedelta(seconds=1)
        return self.clock

    def add_tracking(
        self,
        number: str,
        tag: str = "InTransit",
        order_id: str | None = None,
        *,
        slug: str = "ups",
        subtag: str | None = None,
        subtag_message: str | None = None,
        customer_name: str | None = "Michael B.",
        email: str | None = "michael@example.com",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A tracking created (and updated) now."""
        with self.lock:
            when = self._tick(at)
            tracking_id = f"{next(self._ids):032x}"
            tracking: dict[str, Any] = {
                "id": tracking_id,
                "legacy_id": tracking_id[:24],
                "tracking_number": number,
                "slug": slug,
                "active": tag not in ("Delivered", "Expired"),
                "tag": tag,
                "subtag": subtag or f"{tag}_001",
                "subtag_message": subtag_message or tag,
                "title": order_id or number,
                "order_id": order_id,
                "order_number": order_id,
                "created_at": iso(when),
                "updated_at": iso(when),
                "expected_delivery": None,
                "customers": [{"role": "buyer", "name": customer_name, "email": email, "phone_number": None}]
                if customer_name or email
                else [],
                "checkpoints": [],
            }
            self.trackings[tracking_id] = tracking
            return tracking

    def add_checkpoint(
        self,
        number: str,
        state: str,
        context: str,
        *,
        location: str | None = "Louisville, KY, US",
        subtag: str | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A courier scan on ``number``: ``state`` is the AfterShip tag, ``context`` the scan message."""
        with self.lock:
            tracking = next(t for t in self.trackings.values() if t["tracking_number"] == number)
            when = self._tick(at)
            tracking["checkpoints"].append(
                {
                    "checkpoint_time": iso(when),
                    "created_at": iso(when),
                    "message": context,
                    "location": location,
                    "tag": state,
                    "subtag": subtag or f"{state}_001",
                    "subtag_message": state,
                    "slug": tracking["slug"],
                }
            )
            tracking.update(tag=state, subtag=subtag or f"{state}_001", subtag_message=state)
            tracking["updated_at"] = iso(when)
            tracking["active"] = state not in ("Delivered", "Expired")
            return tracking

    def webhook_body(
        self, tracking: dict[str, Any], event_id: str = "5a5b3c1e-2d4f-4a6b-8c9d-0e1f2a3b4c5d"
    ) -> bytes:
        body = {
            "event": "tracking_update",
            "event_id": event_id,
            "is_tracking_first_tag": False,
            "msg": tracking,
            "ts": int(datetime.fromisoformat(tracking["updated_at"]).timestamp()),
        }
        return json.dumps(body).encode()

    # -- scripted faults -------------------------------------------------------------------
    def rate_limit_next(self, retry_after: str | None = "2", reset_in: int = 2) -> None:
        body = {
            "meta": _meta(429, "You have exceeded the API call rate limit.", "TooManyRequests"),
            "data": {},
        }
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + reset_in),
        }
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        self.fail_next(Reply.json(body, 429, headers))

    def server_error_next(self, count: int = 1) -> None:
        body = {"meta": _meta(500, "Something went wrong on AfterShip's end.", "InternalError"), "data": {}}
        self.fail_next(*[Reply.json(body, 500)] * count)

    def malformed_next(self) -> None:
        """A 200 whose ``data`` lacks ``trackings``."""
        self.fail_next(Reply.json({"meta": _meta(200, "OK", "OK"), "data": {"pagination": {}}}))

    # -- the API ---------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(self.rate_limit - 1),
            "X-RateLimit-Reset": str(int(time.time()) + 1),
        }
        if request.headers.get("as-api-key") != self.api_key:
            body = {"meta": _meta(401, "Invalid API key.", "Unauthorized"), "data": {}}
            return Reply.json(body, 401, headers)
        if request.method == "GET" and request.path == f"{BASE_PATH}/trackings":
            status, body = self._list(request)
            return Reply.json(body, status, headers)
        if request.method == "GET" and request.path.startswith(f"{BASE_PATH}/trackings/"):
            tracking_id = request.path.rsplit("/", 1)[1]
            with self.lock:
                if tracking_id in self.trackings:
                    data = json.loads(json.dumps(self.trackings[tracking_id]))
                    return Reply.json({"meta": _meta(200, "OK", "OK"), "data": data}, 200, headers)
        body = {
            "meta": _meta(404, "The URI requested is invalid or the resource does not exist.", "NotFound")
        }
        return Reply.json({**body, "data": {}}, 404, headers)

    def _list(self, request: Recorded) -> tuple[int, dict[str, Any]]:
        try:
            limit = int(request.param("limit") or 100)
            since = _time(request.param("updated_at_min"))
            until = _time(request.param("updated_at_max"))
        except ValueError as exc:
            return 400, {"meta": _meta(400, f"Invalid parameter: {exc}", "BadRequest"), "data": {}}
        if not 1 <= limit <= 200:
            return 400, {"meta": _meta(400, "limit must be between 1 and 200", "BadRequest"), "data": {}}
        tag, order_id = request.param("tag"), request.param("order_id")
        numbers = set((request.param("tracking_numbers") or "").split(",")) - {""}
        with self.lock:
            rows = []
            for t in self.trackings.values():
                updated = datetime.fromisoformat(t["updated_at"])
                if (since and updated < since) or (until and updated > until):
                    continue
                if (tag and t["tag"] != tag) or (order_id and t["order_id"] != order_id):
                    continue
                if numbers and t["tracking_number"] not in numbers:
                    continue
                rows.append(json.loads(json.dumps(t)))
        rows.sort(key=lambda t: (t["created_at"], t["id"]), reverse=True)
        start = 0
        cursor = request.param("cursor")
        if cursor:
            try:
                position = json.loads(base64.urlsafe_b64decode(cursor.encode()))
                start = next(
                    i + 1 for i, t in enumerate(rows) if (t["created_at"], t["id"]) == tuple(position)
                )
            except (ValueError, StopIteration, TypeError):
                return 400, {"meta": _meta(400, "Invalid cursor.", "BadRequest"), "data": {}}
        chunk = rows[start : start + limit]
        more = start + limit < len(rows)
        next_cursor = None
        if more and chunk:
            last = chunk[-1]
            next_cursor = base64.urlsafe_b64encode(
                json.dumps([last["created_at"], last["id"]]).encode()
            ).decode()
        return 200, {
            "meta": _meta(200, "OK", "OK"),
            "data": {
                "pagination": {"total": len(rows), "next_cursor": next_cursor, "has_next_page": more},
                "trackings": chunk,
            },
        }


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=UTC)
