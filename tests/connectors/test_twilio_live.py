"""The Twilio connector live: paging, cursors, retries, auth, signatures and the official spec."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jsonschema
import pytest
from sqlalchemy import text

from connectors.twilio import TwilioConfig, TwilioConnector, twilio_signature, valid_twilio_signature
from hub.config import HubConfig
from hub.connector import Batch, Cursor, ReadContext, WebhookRequest
from hub.db import make_engine
from hub.errors import AuthError, CheckFailed, ConnectorError, PaginationLoop, SignatureInvalid
from hub.http import HttpClient
from hub.models import RawItem
from hub.polling import poll_instance
from hub.sdk import HighWaterMark
from tests.simulators.base import Reply
from tests.simulators.twilio import ACCOUNT_SID, AUTH_TOKEN, TwilioSimulator, signature

SPEC = Path(__file__).resolve().parents[3] / "shared" / "specs" / "twilio-api-v2010.json"
WEBHOOK_URL = "https://hub.example.com/webhooks/voicemail"


@pytest.fixture
def sim() -> Iterator[TwilioSimulator]:
    with TwilioSimulator() as s:
        yield s  # type: ignore[misc]


def config(sim: TwilioSimulator, **overrides: Any) -> TwilioConfig:
    settings = {
        "account_sid": ACCOUNT_SID,
        "auth_token": AUTH_TOKEN,
        "base_url": sim.url,
        "page_size": 3,
        "webhook_url": WEBHOOK_URL,
        "timeout": 5,
        **overrides,
    }
    return TwilioConfig.model_validate(settings)


def read(
    connector: TwilioConnector, cfg: TwilioConfig, cursor: Cursor | None = None
) -> tuple[list[Batch], list[RawItem], Cursor]:
    batches = list(connector.read(cfg, dict(cursor or {}), ReadContext(instance="vm")))
    after = dict(cursor or {})
    for batch in batches:
        after[batch.partition] = batch.cursor
    return batches, [i for b in batches for i in b.items], after


def payload(item: RawItem) -> dict[str, Any]:
    return json.loads(item.payload)


def listing_requests(sim: TwilioSimulator) -> list[Any]:
    return [r for r in sim.requests if r.path.endswith("/Recordings.json")]


# ---------------------------------------------------------------- reading


def test_pages_through_every_recording_once_oldest_first(sim: TwilioSimulator) -> None:
    made = [sim.add_voicemail(f"message number {n}", f"+1415555{n:04d}") for n in range(8)]
    _, items, cursor = read(TwilioConnector(), config(sim))
    assert [payload(i)["RecordingSid"] for i in items] == [v.recording_sid for v in made]
    assert len({i.native_id for i in items}) == 8
    listings = listing_requests(sim)
    assert len(listings) == 3  # 3 + 3 + 2
    assert listings[0].param("PageSize") == "3" and listings[0].param("DateCreated>") is None
    assert all(r.param("PageToken") for r in listings[1:])
    assert HighWaterMark.load(cursor[""]).ids == {made[-1].recording_sid}


def test_item_is_the_callback_shape_with_the_caller_from_the_call(sim: TwilioSimulator) -> None:
    vm = sim.add_voicemail("my parcel never came", "+14155550123", to="+14155550199")
    connector = TwilioConnector()
    _, [item], _ = read(connector, config(sim))
    body = payload(item)
    assert item.native_id == vm.transcription_sids[0] == body["TranscriptionSid"]
    assert body["TranscriptionText"] == "my parcel never came"
    assert body["TranscriptionStatus"] == "completed"
    assert (body["CallSid"], body["RecordingSid"]) == (vm.call_sid, vm.recording_sid)
    assert (body["From"], body["To"], body["Direction"]) == ("+14155550123", "+14155550199", "inbound")
    assert body["AccountSid"] == ACCOUNT_SID
    assert item.occurred_at is not None
    message = connector.parse(item)
    assert message.text == "my parcel never came"
    assert [i.value for i in message.identities] == ["+14155550123"]
    assert message.extra["recording_sid"] == vm.recording_sid


def test_a_call_that_cannot_be_fetched_leaves_the_caller_out(sim: TwilioSimulator) -> None:
    vm = sim.add_voicemail("hello", "+14155550123")
    del sim.calls[vm.call_sid]
    _, [item], _ = read(TwilioConnector(), config(sim))
    body = payload(item)
    assert "From" not in body and body["CallSid"] == vm.call_sid
    assert TwilioConnector().parse(item).identities == []


def test_failed_transcriptions_are_read_and_not_actionable(sim: TwilioSimulator) -> None:
    sim.add_voicemail("(blank)", transcription_status="failed")
    connector = TwilioConnector()
    _, [item], _ = read(connector, config(sim))
    assert payload(item)["TranscriptionStatus"] == "failed"
    assert not connector.parse(item).actionable


def test_day_filter_is_narrowed_on_the_client_even_within_one_second(sim: TwilioSimulator) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    first = sim.add_voicemail("one", at=at)
    connector = TwilioConnector()
    _, items, cursor = read(connector, config(sim))
    assert len(items) == 1
    second = sim.add_voicemail("two", at=at)  # the same second as the cursor's recording
    sim.requests.clear()
    _, items, cursor = read(connector, config(sim), cursor)
    assert [payload(i)["RecordingSid"] for i in items] == [second.recording_sid]
    assert listing_requests(sim)[0].param("DateCreated>") == at.date().isoformat()
    assert HighWaterMark.load(cursor[""]).ids == {first.recording_sid, second.recording_sid}
    _, items, _ = read(connector, config(sim), cursor)
    assert items == []


def test_in_progress_transcription_holds_the_cursor_until_it_completes(sim: TwilioSimulator) -> None:
    connector = TwilioConnector()
    done = sim.add_voicemail("first")
    pending = sim.add_voicemail("", transcription_status="in-progress")
    later = sim.add_voicemail("third")
    _, items, cursor = read(connector, config(sim))
    assert [payload(i)["RecordingSid"] for i in items] == [done.recording_sid, later.recording_sid]
    assert HighWaterMark.load(cursor[""]).ids == {done.recording_sid}

    sim.finish_transcription(pending.transcription_sids[0], "second, now transcribed")
    _, items, cursor = read(connector, config(sim), cursor)
    ids = [i.native_id for i in items]
    assert pending.transcription_sids[0] in ids  # the held one, plus the later one again (deduped on ingest)
    assert HighWaterMark.load(cursor[""]).ids == {later.recording_sid}
    _, items, _ = read(connector, config(sim), cursor)
    assert items == []


def test_a_transcription_stuck_in_progress_is_given_up_after_a_day(
    sim: TwilioSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.add_voicemail("", transcription_status="in-progress")
    later = datetime.now(UTC) + timedelta(days=2)
    connector = TwilioConnector(now=lambda: later)
    with caplog.at_level(logging.WARNING):
        _, items, cursor = read(connector, config(sim))
    assert items == [] and HighWaterMark.load(cursor[""]).at is not None
    assert "giving up" in caplog.text


def test_far_future_cursor_asks_for_that_day_and_reads_nothing(sim: TwilioSimulator) -> None:
    sim.add_voicemail("hello")
    cursor = {"": HighWaterMark(datetime(2100, 1, 1, tzinfo=UTC)).dump()}
    batches, items, _ = read(TwilioConnector(), config(sim), cursor)
    assert items == [] and batches == []
    assert listing_requests(sim)[0].param("DateCreated>") == "2100-01-01"


def test_unreadable_cursor_is_a_clear_error(sim: TwilioSimulator) -> None:
    with pytest.raises(ConnectorError, match="unreadable saved cursor"):
        read(TwilioConnector(), config(sim), {"": "not json"})


# ---------------------------------------------------------------- HTTP behaviour


def test_429_waits_as_retry_after_says(sim: TwilioSimulator) -> None:
    sim.add_voicemail("hello")
    sleeps: list[float] = []
    sim.rate_limit_next("7")
    _, items, _ = read(TwilioConnector(sleep=sleeps.append), config(sim))
    assert len(items) == 1 and sleeps == [7]
    assert len(listing_requests(sim)) == 2


def test_5xx_is_retried(sim: TwilioSimulator) -> None:
    sim.add_voicemail("hello")
    sleeps: list[float] = []
    sim.server_error_next(2)
    _, items, _ = read(TwilioConnector(sleep=sleeps.append), config(sim))
    assert len(items) == 1 and len(sleeps) == 2


def test_bad_credentials_are_an_auth_error_after_one_request(sim: TwilioSimulator) -> None:
    sleeps: list[float] = []
    connector = TwilioConnector(sleep=sleeps.append)
    bad = config(sim, auth_token="wrong-token-123456")
    with pytest.raises(AuthError) as info:
        read(connector, bad)
    assert len(sim.requests) == 1 and sleeps == []
    assert "wrong-token-123456" not in str(info.value) and "20003" in str(info.value)
    sim.requests.clear()
    with pytest.raises(CheckFailed) as failed:
        connector.check(bad)
    assert len(sim.requests) == 1
    assert "wrong-token-123456" not in str(failed.value) and "auth_token" in str(failed.value)


def test_check_passes_and_fetches_the_account(sim: TwilioSimulator) -> None:
    TwilioConnector().check(config(sim))
    assert [r.path for r in sim.requests] == [f"/2010-04-01/Accounts/{ACCOUNT_SID}.json"]


def test_malformed_page_fails_the_read_without_items(sim: TwilioSimulator) -> None:
    sim.add_voicemail("hello")
    sim.malformed_next()
    with pytest.raises(ConnectorError):
        read(TwilioConnector(sleep=lambda s: None), config(sim))


def test_a_page_token_that_comes_back_is_a_loop(sim: TwilioSimulator) -> None:
    loop = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings.json?PageSize=3&Page=1&PageToken=PAloop"
    page = {"recordings": [], "next_page_uri": loop, "page": 0, "page_size": 3}
    sim.fail_next(Reply.json(page), Reply.json(page), Reply.json(page))
    with pytest.raises(PaginationLoop):
        read(TwilioConnector(), config(sim))


# ---------------------------------------------------------------- webhook signatures

#: twilio-python's own test vectors (tests/unit/test_request_validator.py)
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}


def test_signature_matches_twilio_python_vectors() -> None:
    assert twilio_signature("12345", VECTOR_URL, VECTOR_PARAMS.items()) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert twilio_signature("12345", VECTOR_URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    body = urlencode(VECTOR_PARAMS).encode()
    assert valid_twilio_signature("12345", VECTOR_URL, body, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    with_port = VECTOR_URL.replace(".com", ".com:1234")
    assert valid_twilio_signature("12345", with_port, body, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")
    assert valid_twilio_signature("12345", VECTOR_URL, body, "kvajT1Ptam85bY51eRf/AJRuM3w=")  # :443
    http = VECTOR_URL.replace("https", "http")
    assert valid_twilio_signature("12345", http, body, "0ZXoZLH/DfblKGATFgpif+LLRf4=")  # :80
    assert not valid_twilio_signature("12346", VECTOR_URL, body, "RSOYDt4T1cUTdK1PDd93/VVr8B8=")


def test_json_body_is_signed_through_body_sha256() -> None:
    body = b'{"property": "value", "boolean": true}'
    url = VECTOR_URL + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    assert valid_twilio_signature("12345", url, body, "a9nBmqA0ju/hNViExpshrM61xv4=")
    assert not valid_twilio_signature("12345", url, body + b" ", "a9nBmqA0ju/hNViExpshrM61xv4=")


CALLBACK = {
    "AccountSid": ACCOUNT_SID,
    "CallSid": "CA" + "1" * 32,
    "RecordingSid": "RE" + "2" * 32,
    "TranscriptionSid": "TR" + "3" * 32,
    "TranscriptionText": "the driver threw my parcel over the fence",
    "TranscriptionStatus": "completed",
    "From": "+14155550123",
    "To": "+14155550199",
}


def delivery(
    body: bytes, sig: str | None, url: str = "http://10.0.0.5:8000/webhooks/voicemail"
) -> WebhookRequest:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if sig is not None:
        headers["x-twilio-signature"] = sig
    return WebhookRequest(url=url, headers=headers, body=body, received_at=datetime(2026, 8, 7, tzinfo=UTC))


def test_webhook_accepts_a_good_signature_and_returns_one_item(sim: TwilioSimulator) -> None:
    body = urlencode(CALLBACK).encode()
    sig = signature(AUTH_TOKEN, WEBHOOK_URL, parse_qsl(body.decode()))
    connector = TwilioConnector()
    [item] = connector.webhook(config(sim), delivery(body, sig))
    assert item.native_id == CALLBACK["TranscriptionSid"] and item.connector == "twilio"
    assert connector.parse(item).text == CALLBACK["TranscriptionText"]


def test_webhook_without_webhook_url_checks_the_url_as_received(sim: TwilioSimulator) -> None:
    url = "https://hub.example.com:8443/webhooks/voicemail?instance=vm"
    body = urlencode(CALLBACK).encode()
    sig = signature(AUTH_TOKEN, url, parse_qsl(body.decode()))
    assert TwilioConnector().webhook(config(sim, webhook_url=None), delivery(body, sig, url))


@pytest.mark.parametrize("case", ["missing", "wrong token", "tampered body", "other url"])
def test_webhook_rejects_bad_missing_and_tampered_deliveries(sim: TwilioSimulator, case: str) -> None:
    body = urlencode(CALLBACK).encode()
    good = signature(AUTH_TOKEN, WEBHOOK_URL, parse_qsl(body.decode()))
    request = {
        "missing": delivery(body, None),
        "wrong token": delivery(body, signature("not-the-token", WEBHOOK_URL, parse_qsl(body.decode()))),
        "tampered body": delivery(body.replace(b"fence", b"gate"), good),
        "other url": delivery(body, signature(AUTH_TOKEN, WEBHOOK_URL + "x", parse_qsl(body.decode()))),
    }[case]
    with pytest.raises(SignatureInvalid) as info:
        TwilioConnector().webhook(config(sim), request)
    assert AUTH_TOKEN not in str(info.value)


# ---------------------------------------------------------------- the official spec


def _json_schema(node: Any, components: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``$ref`` inlined, ``nullable`` as a null type, strict objects."""
    if isinstance(node, list):
        return [_json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {
        k: _json_schema(v, components)
        for k, v in node.items()
        if k not in ("nullable", "example", "examples", "x-twilio", "description", "format")
    }
    if node.get("type") == "object" and "properties" in node:
        out["additionalProperties"] = False
    if node.get("nullable"):
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "type" in out:
            out["type"] = [out["type"], "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC.exists():
        pytest.skip(f"the official Twilio spec is not at {SPEC} (it lives in ../shared/specs)")
    return json.loads(SPEC.read_text())


def response_schema(spec: dict[str, Any], template: str) -> dict[str, Any]:
    operation = spec["paths"][template]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return _json_schema(schema, spec["components"]["schemas"])


def test_simulator_answers_follow_the_official_spec(sim: TwilioSimulator, spec: dict[str, Any]) -> None:
    for n in range(5):
        sim.add_voicemail(f"message {n}", transcription_status="in-progress" if n == 2 else "completed")
    sim.add_voicemail("", transcription_status="failed")
    connector = TwilioConnector()
    connector.check(config(sim))
    read(connector, config(sim))
    # and the endpoints the connector does not use
    http = connector_client(sim)
    http.get_json(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Transcriptions.json", params={"PageSize": 2})
    any_tr = next(iter(sim.transcriptions))
    http.get_json(f"/2010-04-01/Accounts/{ACCOUNT_SID}/Transcriptions/{any_tr}.json")

    served = [(t, body) for t, status, body in sim.served if status == 200]
    templates = {t for t, _ in served}
    assert {
        "/2010-04-01/Accounts/{Sid}.json",
        "/2010-04-01/Accounts/{AccountSid}/Recordings.json",
        "/2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}/Transcriptions.json",
        "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json",
        "/2010-04-01/Accounts/{AccountSid}/Transcriptions.json",
        "/2010-04-01/Accounts/{AccountSid}/Transcriptions/{Sid}.json",
    } <= templates
    for template, body in served:
        jsonschema.validate(body, response_schema(spec, template))


def test_spec_validation_catches_a_drifting_answer(spec: dict[str, Any]) -> None:
    schema = response_schema(
        spec, "/2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}/Transcriptions.json"
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"transcriptions": [{"sid": "TR1", "status": "done"}]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"transcriptions": [], "call_sid": "CA1"}, schema)


def connector_client(sim: TwilioSimulator) -> HttpClient:
    return HttpClient(sim.url, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)


# ---------------------------------------------------------------- through the core


def test_poll_instance_stores_messages_once_and_logs_no_secret(
    sim: TwilioSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for n in range(5):
        sim.add_voicemail(f"hi this is caller {n}, my order w{n:04d} arrived broken", f"+1415555{n:04d}")
    settings = config(sim).model_dump(mode="json") | {"auth_token": AUTH_TOKEN}
    hub = HubConfig.model_validate({"connectors": [{"name": "vm", "type": "twilio", "config": settings}]})
    engine = make_engine(f"sqlite:///{tmp_path}/h.db")
    try:
        first = poll_instance(engine, hub, hub.connectors[0])
        assert first.ok, first.error
        assert first.stats.messages == 5
        second = poll_instance(engine, hub, hub.connectors[0])
        assert second.ok and second.stats.seen == 0 and second.stats.messages == 0
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM raw_item")).scalar_one() == 5
            assert c.execute(text("SELECT count(*) FROM message")).scalar_one() == 5

        bad = HubConfig.model_validate(
            {
                "connectors": [
                    {"name": "vm", "type": "twilio", "config": settings | {"auth_token": "nope-nope-1"}}
                ]
            }
        )
        failed = poll_instance(engine, bad, bad.connectors[0])
        assert not failed.ok and "configuration" in (failed.error or "")
    finally:
        engine.dispose()
    assert AUTH_TOKEN not in caplog.text and "nope-nope-1" not in caplog.text
