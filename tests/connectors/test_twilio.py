"""Twilio connector: transcription callbacks to voicemail messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from connectors.twilio import TwilioConnector, caller_number
from hub.errors import ParseError
from hub.models import Channel, Identity, IdentityKind, NonActionable
from tests.connectors.corpus import dev_captures

RECEIVED = datetime(2026, 8, 7, 2, 5, 33, tzinfo=UTC)


def callback(**overrides: Any) -> dict[str, Any]:
    data = {
        "AccountSid": "AC00000000000000000000000000000001",
        "CallSid": "CA00000000000000000000000000000002",
        "RecordingSid": "RE00000000000000000000000000000003",
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE3",
        "TranscriptionSid": "TR00000000000000000000000000000004",
        "TranscriptionText": "hi this is sam my order w two six oh eight please call back",
        "TranscriptionStatus": "completed",
        "From": "+14155550100",
        "To": "+14155550199",
        "CallStatus": "completed",
        "ApiVersion": "2010-04-01",
    }
    data.update(overrides)
    return data


def split_one(data: bytes) -> Any:
    items = TwilioConnector().split_capture(data, instance="t", received_at=RECEIVED, source="c.json")
    assert len(items) == 1
    return items[0]


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def test_split_capture_native_id_and_no_own_time() -> None:
    raw = split_one(encode(callback()))
    assert raw.native_id == "TR00000000000000000000000000000004"
    assert raw.occurred_at is None
    assert raw.sort_time == RECEIVED


def test_parse_completed_transcription() -> None:
    message = TwilioConnector().parse(split_one(encode(callback())))
    assert message.channel is Channel.voicemail
    assert message.text == "hi this is sam my order w two six oh eight please call back"
    assert message.occurred_at == RECEIVED
    assert message.identities == [Identity(kind=IdentityKind.phone, value="+14155550100")]
    assert message.extra["call_sid"] == "CA00000000000000000000000000000002"
    assert message.extra["recording_url"] == "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE3"
    assert message.extra["to"] == "+14155550199"
    assert message.extra["transcription_status"] == "completed"
    assert message.actionable and message.non_actionable_reason is None
    assert message.category is None and message.severity is None


def test_text_is_kept_as_is() -> None:
    text = "喂 你好 订单号H M二零二六 杠 幺零四二七  "
    message = TwilioConnector().parse(split_one(encode(callback(TranscriptionText=text))))
    assert message.text == text


@pytest.mark.parametrize(
    "overrides",
    [
        {"TranscriptionStatus": "failed", "TranscriptionText": ""},
        {"TranscriptionStatus": "failed", "TranscriptionText": "partial words"},
        {"TranscriptionText": "   "},
        {"TranscriptionText": None},
    ],
)
def test_failed_or_empty_transcription_is_stored_but_not_actionable(overrides: dict[str, Any]) -> None:
    message = TwilioConnector().parse(split_one(encode(callback(**overrides))))
    assert not message.actionable
    assert message.non_actionable_reason is NonActionable.empty
    assert message.native_id == "TR00000000000000000000000000000004"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+8613817264590", "+8613817264590"),
        ("+1 (415) 555-0100", "+14155550100"),
        ("+266696687", None),  # Twilio's "anonymous" caller id
        ("anonymous", None),
        ("client:alice", None),
        ("13817264590", None),
        ("", None),
        (None, None),
    ],
)
def test_caller_number(value: Any, expected: str | None) -> None:
    assert caller_number(value) == expected


def test_withheld_caller_gives_no_identity() -> None:
    message = TwilioConnector().parse(split_one(encode(callback(From="+266696687"))))
    assert message.identities == []
    assert message.extra["caller_withheld"] is True


def test_form_encoded_body_is_read_too() -> None:
    raw = split_one(urlencode(callback()).encode("ascii"))
    message = TwilioConnector().parse(raw)
    assert raw.native_id == "TR00000000000000000000000000000004"
    assert message.identities == [Identity(kind=IdentityKind.phone, value="+14155550100")]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"TranscriptionSid": "TR1",\n "TranscriptionText": "hel', "truncated JSON at line 2 column 27"),
        (b"", "empty file"),
        (
            b'{"CallSid": "CA1", "From": "+14155550100"}',
            "not a Twilio transcription callback: no TranscriptionSid",
        ),
        (b"[]", "Twilio transcription callback: expected a JSON object, got array"),
    ],
)
def test_split_capture_errors(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        TwilioConnector().split_capture(data, instance="t", received_at=RECEIVED)
    assert str(info.value) == reason


def test_parse_rejects_bad_payload() -> None:
    raw = split_one(encode(callback())).model_copy(update={"payload": b"{}"})
    with pytest.raises(ParseError, match="no TranscriptionSid"):
        TwilioConnector().parse(raw)


@pytest.mark.corpus
def test_dev_corpus_native_ids_match_labels(dev_corpus: Path) -> None:
    """Every dev capture splits and parses; native ids are exactly the labelled ones."""
    labels, items = dev_captures(dev_corpus, "twilio")
    connector = TwilioConnector()
    for raw, received in items:
        message = connector.parse(raw)
        assert message.native_id == raw.native_id
        assert message.occurred_at == received
    assert sorted(raw.native_id for raw, _ in items) == sorted(labels)
