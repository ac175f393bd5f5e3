"""A Twilio REST API (2010-04-01) simulator: voicemail recordings, their transcriptions and calls.

Follows twilio/twilio-oai ``spec/json/twilio_api_v2010.json`` (see
``../shared/specs/twilio-api-v2010.json``): HTTP Basic ``AccountSid:AuthToken``
(401 with error 20003 otherwise), list envelopes (``first_page_uri``,
``next_page_uri``, ``page``, ``page_size``, ``start``, ``end``, ``uri``) with
``PageSize``/``Page``/``PageToken`` paging, newest first, the day-granular
``DateCreated``/``DateCreated<``/``DateCreated>`` filters on Recordings, and
``{"code", "message", "more_info", "status"}`` error bodies (20404, 20429).

Every answer is kept in :attr:`TwilioSimulator.served` (path template and body)
so a test can validate them against the official schemas.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from tests.simulators.base import Recorded, Reply, Simulator

__all__ = ["ACCOUNT_SID", "AUTH_TOKEN", "TwilioSimulator", "Voicemail", "signature", "twilio_error"]

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "tw-auth-token-5f2c9d"
API = "/2010-04-01"


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    """``X-Twilio-Signature`` as Twilio computes it: base64 HMAC-SHA1 over the URL + sorted name/value pairs."""
    text = url
    for name in sorted({n for n, _ in params}):
        for value in sorted(v for n, v in params if n == name):
            text += name + value
    return base64.b64encode(hmac.new(auth_token.encode(), text.encode(), hashlib.sha1).digest()).decode()


def twilio_error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def rfc2822(when: datetime) -> str:
    return format_datetime(when.astimezone(UTC))


@dataclass
class Voicemail:
    """One seeded voicemail: the call, its recording and the recording's transcriptions."""

    call_sid: str
    recording_sid: str
    transcription_sids: list[str] = field(default_factory=list)


class TwilioSimulator(Simulator):
    """One Twilio account's Calls, Recordings and Transcriptions."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.calls: dict[str, dict[str, Any]] = {}
        self.recordings: dict[str, dict[str, Any]] = {}
        self.transcriptions: dict[str, dict[str, Any]] = {}
        #: (path template, status, body) of every answer, for spec validation
        self.served: list[tuple[str, int, Any]] = []
        self._ids = itertools.count(1)
        #: creation time of the next seeded voicemail (one second apart), near the real clock
        self.clock = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    # -- seeding ---------------------------------------------------------------------------
    def _sid(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):032x}"

    def add_voicemail(
        self,
        text: str,
        from_number: str = "+14155550100",
        *,
        to: str = "+14155550199",
        at: datetime | None = None,
        transcription_status: str = "completed",
        recording_status: str = "completed",
        transcribed: bool = True,
    ) -> Voicemail:
        """A caller left a voicemail: a call, a recording (at ``at``) and its transcription."""
        with self.lock:
            if at is None:
                self.clock += timedelta(seconds=1)
                at = self.clock
            root = f"{API}/Accounts/{self.account_sid}"
            call_sid, rec_sid = self._sid("CA"), self._sid("RE")
            self.calls[call_sid] = {
                "sid": call_sid,
                "date_created": rfc2822(at - timedelta(seconds=40)),
                "date_updated": rfc2822(at),
                "parent_call_sid": None,
                "account_sid": self.account_sid,
                "to": to,
                "to_formatted": to,
                "from": from_number,
                "from_formatted": from_number,
                "phone_number_sid": self._sid("PN"),
                "status": "completed",
                "start_time": rfc2822(at - timedelta(seconds=40)),
                "end_time": rfc2822(at + timedelta(seconds=15)),
                "duration": "55",
                "price": "-0.00850",
                "price_unit": "USD",
                "direction": "inbound",
                "answered_by": None,
                "api_version": "2010-04-01",
                "forwarded_from": None,
                "group_sid": None,
                "caller_name": None,
                "queue_time": "0",
                "trunk_sid": None,
                "uri": f"{root}/Calls/{call_sid}.json",
                "subresource_uris": {"recordings": f"{root}/Calls/{call_sid}/Recordings.json"},
            }
            self.recordings[rec_sid] = {
                "account_sid": self.account_sid,
                "api_version": "2010-04-01",
                "call_sid": call_sid,
                "conference_sid": None,
                "channels": 1,
                "date_created": rfc2822(at),
                "date_updated": rfc2822(at + timedelta(seconds=4)),
                "start_time": rfc2822(at - timedelta(seconds=15)),
                "duration": "15",
                "sid": rec_sid,
                "price": "-0.00250",
                "price_unit": "USD",
                "status": recording_status,
                "source": "RecordVerb",
                "error_code": None,
                "uri": f"{root}/Recordings/{rec_sid}.json",
                "encryption_details": None,
                "subresource_uris": {
                    "add_on_results": f"{root}/Recordings/{rec_sid}/AddOnResults.json",
                    "transcriptions": f"{root}/Recordings/{rec_sid}/Transcriptions.json",
                },
                "media_url": f"https://api.twilio.com{root}/Recordings/{rec_sid}",
            }
            voicemail = Voicemail(call_sid, rec_sid)
            if transcribed:
                voicemail.transcription_sids.append(
                    self.add_transcription(rec_sid, text, status=transcription_status, at=at)
                )
            return voicemail

    def add_transcription(
        self, recording_sid: str, text: str, *, status: str = "completed", at: datetime | None = None
    ) -> str:
        with self.lock:
            root = f"{API}/Accounts/{self.account_sid}"
            sid = self._sid("TR")
            at = at or self.clock
            self.transcriptions[sid] = {
                "account_sid": self.account_sid,
                "api_version": "2008-08-01",
                "date_created": rfc2822(at + timedelta(seconds=5)),
                "date_updated": rfc2822(at + timedelta(seconds=30)),
                "duration": "15",
                "price": None if status == "in-progress" else -0.05,
                "price_unit": "USD",
                "recording_sid": recording_sid,
                "sid": sid,
                "status": status,
                "transcription_text": None if status == "in-progress" else text,
                "type": "fast",
                "uri": f"{root}/Transcriptions/{sid}.json",
            }
            return sid

    def finish_transcription(self, sid: str, text: str, status: str = "completed") -> None:
        """An in-progress transcription completes (or fails)."""
        with self.lock:
            self.transcriptions[sid].update(status=status, transcription_text=text, price=-0.05)

    # -- scripted faults -------------------------------------------------------------------
    def rate_limit_next(self, retry_after: str = "3") -> None:
        body = twilio_error(20429, "Too Many Requests", 429)
        self.fail_next(Reply.json(body, 429, {"Retry-After": retry_after}))

    def server_error_next(self, count: int = 1) -> None:
        body = twilio_error(20500, "Internal Server Error", 500)
        self.fail_next(*[Reply.json(body, 500)] * count)

    def malformed_next(self) -> None:
        """A 200 page that is not the documented envelope (truncated JSON)."""
        self.fail_next(Reply(200, b'{"recordings": [{"sid": "RE', {"Content-Type": "application/json"}))

    # -- the API ---------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        template, status, body = self._answer(request)
        with self.lock:
            self.served.append((template, status, body))
        headers = {"Twilio-Request-Id": f"RQ{next(self._ids):032x}"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return Reply.json(body, status, headers)

    def _authorized(self, request: Recorded) -> bool:
        header = request.headers.get("authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid and password == self.auth_token

    def _answer(self, request: Recorded) -> tuple[str, int, Any]:
        if not self._authorized(request):
            return "error", 401, twilio_error(20003, "Authenticate", 401)
        if request.method != "GET":
            return "error", 405, twilio_error(20004, "Method not allowed", 405)
        root = f"{API}/Accounts/{self.account_sid}"
        path = request.path
        if path == f"{root}.json":
            return "/2010-04-01/Accounts/{Sid}.json", 200, self._account()
        with self.lock:
            if path == f"{root}/Recordings.json":
                try:
                    rows = self._filter_recordings(request)
                except ValueError as exc:
                    return "error", 400, twilio_error(20001, str(exc), 400)
                return (
                    "/2010-04-01/Accounts/{AccountSid}/Recordings.json",
                    *self._page(request, "recordings", rows),
                )
            if path == f"{root}/Transcriptions.json":
                rows = self._newest_first(self.transcriptions.values())
                return (
                    "/2010-04-01/Accounts/{AccountSid}/Transcriptions.json",
                    *self._page(request, "transcriptions", rows),
                )
            m = re.fullmatch(rf"{re.escape(root)}/Recordings/(RE\w+)/Transcriptions\.json", path)
            if m and m.group(1) in self.recordings:
                rows = self._newest_first(
                    t for t in self.transcriptions.values() if t["recording_sid"] == m.group(1)
                )
                return (
                    "/2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}/Transcriptions.json",
                    *self._page(request, "transcriptions", rows),
                )
            m = re.fullmatch(rf"{re.escape(root)}/Transcriptions/(TR\w+)\.json", path)
            if m and m.group(1) in self.transcriptions:
                return (
                    "/2010-04-01/Accounts/{AccountSid}/Transcriptions/{Sid}.json",
                    200,
                    dict(self.transcriptions[m.group(1)]),
                )
            m = re.fullmatch(rf"{re.escape(root)}/Recordings/(RE\w+)\.json", path)
            if m and m.group(1) in self.recordings:
                return (
                    "/2010-04-01/Accounts/{AccountSid}/Recordings/{Sid}.json",
                    200,
                    dict(self.recordings[m.group(1)]),
                )
            m = re.fullmatch(rf"{re.escape(root)}/Calls/(CA\w+)\.json", path)
            if m and m.group(1) in self.calls:
                return "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json", 200, dict(self.calls[m.group(1)])
        message = f"The requested resource {path} was not found"
        return "error", 404, twilio_error(20404, message, 404)

    def _account(self) -> dict[str, Any]:
        root = f"{API}/Accounts/{self.account_sid}"
        return {
            "auth_token": self.auth_token,
            "date_created": rfc2822(datetime(2024, 3, 1, 9, 0, tzinfo=UTC)),
            "date_updated": rfc2822(datetime(2024, 3, 1, 9, 0, tzinfo=UTC)),
            "friendly_name": "Complaint hub test account",
            "owner_account_sid": self.account_sid,
            "sid": self.account_sid,
            "status": "active",
            "subresource_uris": {"recordings": f"{root}/Recordings.json"},
            "type": "Full",
            "uri": f"{root}.json",
        }

    @staticmethod
    def _created(row: dict[str, Any]) -> datetime:
        return parsedate_to_datetime(row["date_created"])

    def _newest_first(self, rows: Any) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: (self._created(r), r["sid"]), reverse=True)

    def _filter_recordings(self, request: Recorded) -> list[dict[str, Any]]:
        """``DateCreated`` (that day), ``DateCreated<`` (on or before), ``DateCreated>`` (on or after)."""

        def day(name: str) -> date | None:
            value = request.param(name)
            if value is None:
                return None
            try:
                return date.fromisoformat(value[:10])  # day granularity, as documented
            except ValueError:
                raise ValueError(f"Invalid {name} value {value!r}") from None

        on, before, after = day("DateCreated"), day("DateCreated<"), day("DateCreated>")
        call_sid = request.param("CallSid")
        rows = []
        for rec in self.recordings.values():
            created = self._created(rec).astimezone(UTC).date()
            if on and created != on:
                continue
            if before and created > before:
                continue
            if after and created < after:
                continue
            if call_sid and rec["call_sid"] != call_sid:
                continue
            rows.append(rec)
        return self._newest_first(rows)

    def _page(self, request: Recorded, key: str, rows: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
        """One page of ``rows`` in Twilio's list envelope; ``PageToken`` = ``PA`` + the last sid served."""
        try:
            size = int(request.param("PageSize") or 50)
            page = int(request.param("Page") or 0)
        except ValueError:
            return 400, twilio_error(20001, "Invalid PageSize or Page", 400)
        if not 1 <= size <= 1000 or page < 0:
            return 400, twilio_error(20001, "PageSize must be between 1 and 1000", 400)
        token = request.param("PageToken")
        start = 0
        if token:
            sids = [r["sid"] for r in rows]
            if not token.startswith("PA") or token[2:] not in sids:
                return 400, twilio_error(20001, f"Invalid PageToken {token}", 400)
            start = sids.index(token[2:]) + 1
        chunk = rows[start : start + size]
        filters = {k: v[0] for k, v in request.query.items() if k not in ("PageSize", "Page", "PageToken")}

        def uri(page_no: int, page_token: str | None = None) -> str:
            params = {**filters, "PageSize": size, "Page": page_no}
            if page_token:
                params["PageToken"] = page_token
            return f"{request.path}?{urlencode(params)}"

        more = start + size < len(rows)
        return 200, {
            key: [dict(r) for r in chunk],
            "end": page * size + max(len(chunk) - 1, 0),
            "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1, "PA" + chunk[-1]["sid"]) if more and chunk else None,
            "page": page,
            "page_size": size,
            "previous_page_uri": uri(page - 1) if page > 0 else None,
            "start": page * size,
            "uri": uri(page, token),
        }
