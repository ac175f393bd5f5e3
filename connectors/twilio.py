"""Twilio voicemail connector: transcription callbacks of recorded calls.

Supports the parameters Twilio posts to a ``transcribeCallback`` URL, captured
as one JSON object per file (a raw ``application/x-www-form-urlencoded`` body is
read too). Follows twilio/twilio-oai ``spec/json/twilio_api_v2010.json`` and
Twilio's voice webhook parameters (see PROVIDERS.md). Native id:
``TranscriptionSid``. A callback carries no time of its own, so the message
time is when the hub received it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, ClassVar

from hub.connector import SourceConnector
from hub.errors import ParseError
from hub.models import Channel, ComplaintMessage, Identity, IdentityKind, NonActionable, RawItem
from hub.sdk import as_text, decode_json_or_form, parse_errors, require_mapping

__all__ = ["TwilioConnector", "caller_number"]

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


class TwilioConnector(SourceConnector):
    """Voicemail transcriptions, one message per callback."""

    name: ClassVar[str] = "twilio"
    channel: ClassVar[Channel] = Channel.voicemail

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
