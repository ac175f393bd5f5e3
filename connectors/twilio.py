"""Twilio voicemail connector: transcription callbacks of recorded calls.

Supports the parameters Twilio posts to a ``transcribeCallback`` URL, captured
as one JSON object per file (a raw ``application/x-www-form-urlencoded`` body is
read too). Follows twilio/twilio-oai ``spec/json/twilio_api_v2010.json`` and
Twilio's voice webhook parameters (see PROVIDERS.md). Native id:
``TranscriptionSid``. A callback carries no time of its own, so the message
time is when the hub received it.

Live source (capabilities ``poll`` and ``webhook``):

- ``check``: ``GET /2010-04-01/Accounts/{AccountSid}.json`` with HTTP Basic
  ``AccountSid:AuthToken``.
- ``read``: ``GET Recordings.json?DateCreated>=<day>`` (Twilio's date filter has
  day granularity, so the connector narrows it on the client with a
  :class:`~hub.sdk.HighWaterMark`: the newest recording time processed and the
  recordings seen at that second), paging with ``PageSize``/``next_page_uri``;
  for each recording ``GET Recordings/{RE}/Transcriptions.json`` and the call
  ``GET Calls/{CA}.json`` for ``From``/``To``/``Direction`` (left out when the
  call cannot be fetched, e.g. deleted: the message then has no caller).
  Every completed or failed transcription becomes a raw item whose payload is
  the callback-shaped JSON object that :meth:`TwilioConnector.split_capture`
  reads, so polled and pushed transcriptions share one native id
  (``TranscriptionSid``) and are stored once. A recording whose transcription is
  still in progress holds the cursor (later ones are still read; re-reading
  them is harmless), until it is :data:`GIVE_UP_AFTER` old.
- ``webhook``: the ``transcribeCallback`` POST; ``X-Twilio-Signature`` is
  checked exactly like twilio-python's ``RequestValidator`` (the URL with and
  without its port, then every form field sorted by name, name + value).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, SecretStr

from hub.connector import (
    Batch,
    Capability,
    ConnectorConfig,
    Cursor,
    ReadContext,
    SourceConnector,
    WebhookRequest,
    secret_values,
)
from hub.errors import (
    AuthError,
    CheckFailed,
    ConnectorError,
    PaginationLoop,
    ParseError,
    SignatureInvalid,
    TransientError,
)
from hub.http import HttpClient, PageGuard
from hub.models import Channel, ComplaintMessage, Identity, IdentityKind, NonActionable, RawItem
from hub.sdk import (
    HighWaterMark,
    as_text,
    decode_json_or_form,
    form_fields,
    json_bytes,
    parse_errors,
    require_mapping,
    webhook_instance,
)

__all__ = [
    "GIVE_UP_AFTER",
    "TwilioConfig",
    "TwilioConnector",
    "caller_number",
    "twilio_signature",
    "valid_twilio_signature",
]

API = "2010-04-01"
#: a recording whose transcription is still in progress this long after it was made is given up on
GIVE_UP_AFTER = timedelta(hours=24)
#: a finished recording without any transcription yet may still get one (Twilio creates it just after)
TRANSCRIPTION_GRACE = timedelta(minutes=10)
_DONE_TRANSCRIPTIONS = {"completed", "failed"}
_FINAL_RECORDINGS = {"completed", "absent", "deleted", "failed"}

log = logging.getLogger(__name__)

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
#: Twilio's stand-in caller ids (ANONYMOUS, RESTRICTED, UNKNOWN, BLOCKED on a keypad)
_WITHHELD = {"+266696687", "+7378742833", "+8656696", "+2562533"}


def caller_number(value: Any) -> str | None:
    """The caller's number when ``From`` is an E.164-looking phone number, else ``None``."""
    number = as_text(value)
    if number is None:
        return None
    number = re.sub(r"[\s().-]", "", number)
    if not _E164.match(number) or number in _WITHHELD:
        return None
    return number


def _callback(payload: bytes) -> dict[str, Any]:
    body = require_mapping(decode_json_or_form(payload), "Twilio transcription callback")
    if as_text(body.get("TranscriptionSid")) is None:
        raise ParseError("not a Twilio transcription callback: no TranscriptionSid")
    return body


# ---------------------------------------------------------------- signatures


def _url_variants(url: str) -> list[str]:
    """The URL as given, without its port and with the scheme's default port (twilio-python's rule)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    if parts.port:
        without = parts._replace(netloc=f"{userinfo}{host}").geturl()
        return [without, url]
    default = 443 if parts.scheme == "https" else 80
    return [url, parts._replace(netloc=f"{parts.netloc}:{default}").geturl()]


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``X-Twilio-Signature`` of a POST: base64 HMAC-SHA1 of the URL + sorted ``name + value`` pairs."""
    by_name: dict[str, list[str]] = {}
    for name, value in params:
        by_name.setdefault(name, []).append(value)
    text = url + "".join(name + value for name in sorted(by_name) for value in sorted(by_name[name]))
    digest = hmac.new(auth_token.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def valid_twilio_signature(auth_token: str, url: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` signs this delivery, like twilio-python's ``RequestValidator.validate``.

    A form body is signed through its fields; a JSON body through ``bodySHA256`` in the URL.
    """
    if not signature:
        return False
    params = form_fields(body)
    body_ok = True
    hashes = parse_qs(urlsplit(url).query).get("bodySHA256")
    if hashes:
        body_ok = hmac.compare_digest(hashlib.sha256(body).hexdigest(), hashes[0])
        params = []
    signed = any(
        hmac.compare_digest(twilio_signature(auth_token, variant, params), signature.strip())
        for variant in _url_variants(url)
    )
    return body_ok and signed


# ---------------------------------------------------------------- live source


class TwilioConfig(ConnectorConfig):
    """One Twilio account polled for voicemail transcriptions (and receiving their callbacks)."""

    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token: SecretStr
    base_url: str = "https://api.twilio.com"
    #: list page size (Twilio allows up to 1000)
    page_size: int = Field(default=50, ge=1, le=1000)
    #: the public URL Twilio calls for ``transcribeCallback`` (what it signs); None = the URL as received
    webhook_url: str | None = None


def _rfc2822(value: Any, what: str) -> datetime:
    try:
        when = parsedate_to_datetime(str(value))
    except (TypeError, ValueError, IndexError):
        raise ConnectorError(f"Twilio {what}: unreadable date_created {value!r}") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


class _Account:
    """One read's view of a Twilio account: the HTTP client and a cache of calls."""

    def __init__(self, config: TwilioConfig, sleep: Callable[[float], None]) -> None:
        self.config = config
        self.http = HttpClient(
            config.base_url,
            auth=(config.account_sid, config.auth_token.get_secret_value()),
            timeout=config.timeout,
            secrets=secret_values(config),
            sleep=sleep,
        )
        self.root = f"/{API}/Accounts/{config.account_sid}"
        self.calls: dict[str, dict[str, Any] | None] = {}

    def pages(self, path: str, key: str, params: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        """Every page of a list resource, following ``next_page_uri`` (a repeated one is an error)."""
        guard = PageGuard(f"Twilio {key}")
        url: str | None = path
        query: dict[str, str] | None = {**params, "PageSize": str(self.config.page_size)}
        while url:
            page = self.http.get_json(url, params=query)
            if not isinstance(page, dict) or not isinstance(page.get(key), list):
                got = sorted(page)[:8] if isinstance(page, dict) else type(page).__name__
                raise ConnectorError(f"Twilio {key} page without a {key!r} list (got {got})")
            yield [r for r in page[key] if isinstance(r, dict)]
            url = page.get("next_page_uri") or None
            guard.check(url)
            query = None  # the next page URI carries every parameter

    def call(self, call_sid: str | None) -> dict[str, Any] | None:
        if not call_sid:
            return None
        if call_sid not in self.calls:
            try:
                call = self.http.get_json(f"{self.root}/Calls/{call_sid}.json")
                self.calls[call_sid] = call if isinstance(call, dict) else None
            except (AuthError, TransientError, PaginationLoop):
                raise
            except ConnectorError as exc:  # 404 (deleted call) and the like: the caller stays unknown
                log.debug("Twilio call %s not fetched: %s", call_sid, exc)
                self.calls[call_sid] = None
        return self.calls[call_sid]


class TwilioConnector(SourceConnector):
    """Voicemail transcriptions, one message per callback."""

    name: ClassVar[str] = "twilio"
    channel: ClassVar[Channel] = Channel.voicemail
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {Capability.IMPORT, Capability.POLL, Capability.WEBHOOK}
    )
    Config: ClassVar[type[ConnectorConfig]] = TwilioConfig

    def __init__(
        self,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        """``sleep`` waits between HTTP retries (tests pass a fake); ``now`` is the clock for give-ups."""
        self._sleep = sleep
        self._now = now or (lambda: datetime.now(UTC))

    # -- live source -----------------------------------------------------------------------
    def check(self, config: TwilioConfig) -> None:
        """Fetch the account with the configured credentials (``CheckFailed`` with a hint)."""
        account = _Account(config, self._sleep)
        try:
            body = account.http.get_json(f"{account.root}.json")
        except AuthError as exc:
            raise CheckFailed(
                f"Twilio refused the credentials of account {config.account_sid}: {exc}",
                "check account_sid and auth_token (Console > Account > API keys & tokens)",
            ) from None
        except ConnectorError as exc:
            raise CheckFailed(f"Twilio account {config.account_sid} not reachable: {exc}", "") from None
        status = as_text(body.get("status")) if isinstance(body, dict) else None
        if status in ("suspended", "closed"):
            raise CheckFailed(
                f"Twilio account {config.account_sid} is {status}", "reactivate it in the Console"
            )

    def read(self, config: TwilioConfig, cursor: Cursor, ctx: ReadContext) -> Iterator[Batch]:
        """Completed/failed transcriptions of recordings made after the cursor, oldest first."""
        account = _Account(config, self._sleep)
        mark = HighWaterMark.load(cursor.get(""), what=f"{ctx.instance}: Twilio cursor")
        params: dict[str, str] = {}
        if mark.at is not None:  # day granularity, inclusive: narrowed below
            params["DateCreated>"] = mark.at.date().isoformat()
        recordings: list[tuple[datetime, str, dict[str, Any]]] = []
        for page in account.pages(f"{account.root}/Recordings.json", "recordings", params):
            for rec in page:
                sid = as_text(rec.get("sid"))
                if sid is None:
                    continue
                when = _rfc2822(rec.get("date_created"), f"recording {sid}")
                if mark.is_new(when, sid):
                    recordings.append((when, sid, rec))
        recordings.sort(key=lambda entry: (entry[0], entry[1]))

        now = self._now()
        held = False  # a recording still waits for its transcription: the cursor stays before it
        items: list[RawItem] = []
        emitted = 0
        for when, sid, rec in recordings:
            ready, new = self._transcribed(account, rec, sid, when, now, ctx)
            items += new
            emitted += len(new)
            if not ready:
                held = True
            elif not held:
                mark = mark.advance(when, sid)
            if len(items) >= config.page_size:
                yield Batch(items, cursor=mark.dump())
                items = []
            if ctx.max_items is not None and emitted >= ctx.max_items:
                break
        if items or recordings:
            yield Batch(items, cursor=mark.dump())

    def _transcribed(
        self,
        account: _Account,
        rec: dict[str, Any],
        sid: str,
        when: datetime,
        now: datetime,
        ctx: ReadContext,
    ) -> tuple[bool, list[RawItem]]:
        """(whether the recording is done with, raw items of its finished transcriptions)."""
        waited_long = now - when > GIVE_UP_AFTER
        status = (as_text(rec.get("status")) or "").lower()
        if status not in _FINAL_RECORDINGS:
            return waited_long, []
        transcriptions = [
            t
            for page in account.pages(
                f"{account.root}/Recordings/{sid}/Transcriptions.json", "transcriptions", {}
            )
            for t in page
        ]
        pending = [
            t for t in transcriptions if (as_text(t.get("status")) or "").lower() not in _DONE_TRANSCRIPTIONS
        ]
        if pending and waited_long:
            ctx.log.warning(
                "Twilio recording %s: transcription %s still %s after %s; giving up on it",
                sid,
                as_text(pending[0].get("sid")),
                as_text(pending[0].get("status")),
                GIVE_UP_AFTER,
            )
        ready = (not pending or waited_long) and (
            bool(transcriptions) or status != "completed" or now - when > TRANSCRIPTION_GRACE
        )
        items = []
        for transcription in transcriptions:
            if transcription in pending:
                continue
            payload = self._callback_payload(account, rec, transcription)
            items.append(
                RawItem(
                    connector=self.name,
                    instance=ctx.instance,
                    native_id=str(payload["TranscriptionSid"]),
                    received_at=now,
                    occurred_at=when,
                    payload=json_bytes(payload),
                    source=account.http.url(
                        str(transcription.get("uri") or f"{account.root}/Recordings/{sid}")
                    ),
                )
            )
        return ready, items

    def _callback_payload(
        self, account: _Account, rec: dict[str, Any], transcription: dict[str, Any]
    ) -> dict[str, str]:
        """The fields Twilio would post to ``transcribeCallback`` for this transcription."""
        call = account.call(as_text(rec.get("call_sid"))) or {}
        base = account.config.base_url.rstrip("/")
        tr_uri = as_text(transcription.get("uri"))
        fields = {
            "TranscriptionSid": as_text(transcription.get("sid")),
            "TranscriptionText": transcription.get("transcription_text")
            if isinstance(transcription.get("transcription_text"), str)
            else None,
            "TranscriptionStatus": as_text(transcription.get("status")),
            "TranscriptionUrl": f"{base}{tr_uri.removesuffix('.json')}" if tr_uri else None,
            "RecordingSid": as_text(rec.get("sid")),
            "RecordingUrl": as_text(rec.get("media_url")),
            "AccountSid": as_text(rec.get("account_sid")) or account.config.account_sid,
            "CallSid": as_text(rec.get("call_sid")),
            "From": as_text(call.get("from")),
            "To": as_text(call.get("to")),
            "CallStatus": as_text(call.get("status")),
            "Direction": as_text(call.get("direction")),
            "ApiVersion": as_text(rec.get("api_version")) or API,
        }
        return {k: v for k, v in fields.items() if v is not None}

    def webhook(self, config: TwilioConfig, request: WebhookRequest) -> list[RawItem]:
        """A ``transcribeCallback`` delivery, verified by ``X-Twilio-Signature``."""
        token = config.auth_token.get_secret_value()
        signature = request.header("X-Twilio-Signature")
        urls = [u for u in dict.fromkeys([config.webhook_url, request.url]) if u]
        if not signature:
            raise SignatureInvalid("Twilio delivery without X-Twilio-Signature")
        if not any(valid_twilio_signature(token, url, request.body, signature) for url in urls):
            raise SignatureInvalid(
                "X-Twilio-Signature does not match (is webhook_url the exact URL Twilio calls?)"
            )
        try:
            return self.split_capture(
                request.body,
                instance=webhook_instance(request),
                received_at=request.received_at,
                source=config.webhook_url or request.url,
            )
        except ParseError as exc:
            raise ConnectorError(f"Twilio delivery verified but unusable: {exc}") from None

    # -- captures --------------------------------------------------------------------------
    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        """One raw item per file; no ``occurred_at`` (the core uses ``received_at``)."""
        body = _callback(data)
        return [
            RawItem(
                connector=self.name,
                instance=instance,
                native_id=str(body["TranscriptionSid"]).strip(),
                received_at=received_at,
                occurred_at=None,
                payload=data,
                source=source,
            )
        ]

    def parse(self, raw: RawItem) -> ComplaintMessage:
        """Transcript as text, caller phone; failed or empty transcriptions are non-actionable."""
        body = _callback(raw.payload)
        with parse_errors(f"twilio transcription {body.get('TranscriptionSid')}"):
            return self._parse(raw, body)

    def _parse(self, raw: RawItem, body: dict[str, Any]) -> ComplaintMessage:
        text = body.get("TranscriptionText")
        text = text if isinstance(text, str) else ""
        status = as_text(body.get("TranscriptionStatus"))
        caller = as_text(body.get("From"))
        number = caller_number(caller)
        extra: dict[str, Any] = {
            "call_sid": as_text(body.get("CallSid")),
            "recording_url": as_text(body.get("RecordingUrl")),
            "to": as_text(body.get("To")),
            "transcription_status": status,
        }
        for key, field in (("recording_sid", "RecordingSid"), ("from", "From"), ("direction", "Direction")):
            value = as_text(body.get(field))
            if value:
                extra[key] = value
        if caller and number is None:
            extra["caller_withheld"] = True

        message = ComplaintMessage(
            connector=self.name,
            instance=raw.instance,
            native_id=raw.native_id,
            channel=self.channel,
            occurred_at=raw.sort_time,
            text=text,
            identities=[Identity(kind=IdentityKind.phone, value=number)] if number else [],
            extra=extra,
        )
        if (status or "").lower() == "failed" or not text.strip():
            message.mark_not_actionable(NonActionable.empty)
        return message
