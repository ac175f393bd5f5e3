"""The HubSpot sink against the simulator, requests and answers checked against HubSpot's official OpenAPI spec."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import requests
import yaml
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlmodel import Session, select

from connectors.hubspot import HubSpotConfig, HubSpotSink, rate_limit_wait
from hub.cases import public_id
from hub.config import DeliverySettings, HubConfig, SinkInstance
from hub.errors import AuthError, CheckFailed
from hub.mapping import load_mapping
from hub.outbox import Outbox
from hub.tables import SinkLinkRow
from tests.core.test_pipeline import build_corpus, run_import
from tests.simulators.base import Recorded, Reply
from tests.simulators.hubspot import HubSpotSimulator, error_body
from tests.sinks.common import case_documents, delivery, outbox_rows

TOKEN = "pat-na1-0f0f0f0f-1234-4321-abcd-0123456789ab"
SEQ = "hub_event_sequence"
ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "mappings" / "hubspot.yaml"
SPEC_FILE = ROOT.parent / "shared" / "specs" / "hubspot-crm-tickets-v3.json"
UPSERT = "/crm/v3/objects/tickets/batch/upsert"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    if not SPEC_FILE.exists():
        pytest.skip(f"HubSpot OpenAPI spec not found at {SPEC_FILE}")
    data: dict[str, Any] = json.loads(SPEC_FILE.read_text(encoding="utf-8"))
    return data


def validate(spec: dict[str, Any], instance: Any, schema: str) -> None:
    """Validate against ``#/components/schemas/<schema>`` of the official spec."""
    jsonschema.validate(
        instance,
        {"$ref": f"#/components/schemas/{schema}", "components": spec["components"]},
        format_checker=jsonschema.FormatChecker(),
    )


def validate_exchange(spec: dict[str, Any], request: Recorded, reply: Reply) -> None:
    """A request body and its answer against the operation's schemas in the spec."""
    answer = json.loads(reply.body) if reply.body else None
    if reply.status >= 400:
        validate(spec, answer, "Error")
        return
    if request.path == UPSERT:
        validate(spec, request.json(), "BatchInputSimplePublicObjectBatchInputUpsert")
        name = "BatchResponseSimplePublicUpsertObject"
        validate(spec, answer, name if reply.status == 200 else f"{name}WithErrors")
    elif request.path == "/crm/v3/objects/tickets" and request.method == "GET":
        validate(spec, answer, "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging")


@pytest.fixture
def sim() -> Iterator[HubSpotSimulator]:
    s = HubSpotSimulator(TOKEN, custom_properties=(SEQ,))
    with s:
        yield s


def edited_mapping(tmp_path: Path, **fields: Any) -> Path:
    data = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    data["fields"].update(fields)
    path = tmp_path / f"hubspot-{len(list(tmp_path.glob('hubspot-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def with_sequence(tmp_path: Path) -> Path:
    """The mapping plus the event's sequence in a custom property, so the tests can see update order."""
    return edited_mapping(tmp_path, **{SEQ: "{{ event.sequence }}"})


def hub_config(
    sim: HubSpotSimulator,
    mapping: Path = MAPPING,
    *,
    token: str = TOKEN,
    timeout: float = 2.0,
    **delivery: Any,
) -> HubConfig:
    settings = {
        "backoff_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "breaker_cooldown_seconds": 0.2,
        "max_attempts": 10,
        **delivery,
    }
    return HubConfig(
        sinks=[
            SinkInstance(
                name="hs",
                type="hubspot",
                mapping=str(mapping),
                config={
                    "base_url": sim.url,
                    "access_token": token,
                    "id_property": "hub_case_id",
                    "timeout": timeout,
                },
                delivery=DeliverySettings(**settings),
            )
        ]
    )


def sink_config(sim: HubSpotSimulator, **overrides: Any) -> HubSpotConfig:
    data = {"base_url": sim.url, "access_token": TOKEN, "id_property": "hub_case_id", "timeout": 2.0}
    return HubSpotConfig.model_validate({**data, **overrides})


FIELDS = {"subject": "kettle leaks", "content": "...", "hs_pipeline_stage": "1", "hs_ticket_priority": "HIGH"}


# -- mapping -----------------------------------------------------------------------------------
def test_mapping_output_is_a_valid_upsert_input(
    sqlite_engine: Engine, tmp_path: Path, spec: dict[str, Any]
) -> None:
    run_import(sqlite_engine, build_corpus(tmp_path / "c"))
    docs = case_documents(sqlite_engine)
    mapping = load_mapping(MAPPING, sink_type="hubspot")
    meta = {"type": "case.created", "sequence": 1, "event_id": "evt_x", "occurred_at": "2026-11-02T02:00:00Z"}
    sink, config = HubSpotSink(), HubSpotConfig(access_token=SecretStr(TOKEN))
    inputs = [
        sink._input(config, delivery(i, cid, mapping.render(doc, meta)))
        for i, (cid, doc) in enumerate(docs.items())
    ]
    validate(spec, {"inputs": inputs}, "BatchInputSimplePublicObjectBatchInputUpsert")
    checker = HubSpotSimulator()
    for item in inputs:
        assert item["idProperty"] == "hub_case_id" and item["id"].startswith("C-")
        props = item["properties"]
        assert set(props) == {"subject", "content", "hs_pipeline", "hs_pipeline_stage", "hs_ticket_priority"}
        assert checker._problems(props, creating=True) == [], props
    by_id = {i["id"]: i["properties"] for i in inputs}
    kettle = by_id["C-000001"]
    assert kettle["hs_ticket_priority"] == "HIGH" and kettle["hs_pipeline_stage"] == "1"
    assert kettle["hs_pipeline"] == "0"
    assert kettle["subject"].startswith("[product_quality] C-000001: 你好")
    assert "Customer: Chen Mei <mei.chen@example.cn> +8613912345678" in kettle["content"]
    assert "Orders: HM20261101-20001" in kettle["content"]
    assert by_id["C-000002"]["hs_ticket_priority"] == "MEDIUM"
    docs["C-000002"]["status"] = "closed"
    assert mapping.render(docs["C-000002"], meta)["hs_pipeline_stage"] == "4"
    # the config's pipeline wins over the mapping's
    piped = sink._input(
        HubSpotConfig(access_token=SecretStr(TOKEN), pipeline="7"), delivery(1, "C-1", by_id["C-000001"])
    )
    assert piped["properties"]["hs_pipeline"] == "7"


# -- end to end through the outbox ----------------------------------------------------------------
def test_every_case_becomes_exactly_one_ticket_with_updates_in_order(
    sqlite_engine: Engine, tmp_path: Path, sim: HubSpotSimulator, spec: dict[str, Any]
) -> None:
    config = hub_config(sim, with_sequence(tmp_path))
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    rows = outbox_rows(sqlite_engine)
    HubSpotSink().check(sink_config(sim))
    stats = Outbox(sqlite_engine, config).flush()
    assert stats.dead == 0 and stats.delivered == len(rows)
    docs = case_documents(sqlite_engine)
    tickets = sim.by_property()
    assert set(tickets) == set(docs) and sim.duplicates() == 0
    assert sim.created == len(docs) and sim.updated == len(rows) - len(docs)
    assert stats.calls < len(rows), "first events go in one batch"
    mapping = load_mapping(MAPPING)
    for cid, doc in docs.items():
        (ticket,) = tickets[cid]
        expected = mapping.render(doc, {"type": "", "sequence": 0, "event_id": "", "occurred_at": ""})
        assert {k: ticket.get(k) for k in expected} == expected, cid
        sequences = [int(w[SEQ]) for w in sim.history[ticket["hs_object_id"]]]
        assert sequences == sorted(r.sequence for r in rows if public_id(r.case_id) == cid), cid
    with Session(sqlite_engine) as s:
        links = {public_id(link.case_id): link.external_id for link in s.exec(select(SinkLinkRow)).all()}
    assert links == {cid: t[0]["hs_object_id"] for cid, t in tickets.items()}
    assert sim.exchanges
    for request, reply in sim.exchanges:
        validate_exchange(spec, request, reply)


def test_a_lost_response_is_redelivered_without_a_second_ticket(
    sqlite_engine: Engine, tmp_path: Path, sim: HubSpotSimulator
) -> None:
    config = hub_config(sim, with_sequence(tmp_path), timeout=0.3)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    sim.answer_late(1.0, 1.0)
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert max(r.attempts for r in rows) >= 2
    docs = case_documents(sqlite_engine)
    assert sim.duplicates() == 0 and sim.created == len(docs)
    assert {cid: len(t) for cid, t in sim.by_property().items()} == dict.fromkeys(docs, 1)
    for rid, writes in sim.history.items():
        sequences = [int(w[SEQ]) for w in writes]
        assert sequences == sorted(sequences), (rid, sequences)


def test_a_207_partial_failure_dead_letters_only_the_failing_input(
    sqlite_engine: Engine,
    tmp_path: Path,
    sim: HubSpotSimulator,
    spec: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = edited_mapping(
        tmp_path,
        hs_ticket_priority={"from": "case.severity", "map": {"severe": "URGENT", "general": "MEDIUM"}},
    )
    config = hub_config(sim, bad)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    dead = [r for r in rows if r.status == "dead"]
    assert stats.dead == 1 and len(dead) == 1 and public_id(dead[0].case_id) == "C-000001"
    assert dead[0].attempts == 1
    assert "INVALID_OPTION" in (dead[0].last_error or "") and "URGENT" in (dead[0].last_error or "")
    later = [r for r in rows if r.case_id == dead[0].case_id and r.sequence > dead[0].sequence]
    assert later and all(r.status == "pending" for r in later)
    assert all(r.status == "delivered" for r in rows if r.case_id != dead[0].case_id)
    assert set(sim.by_property()) == {"C-000002", "C-000003", "C-000004"}
    statuses = [reply.status for _, reply in sim.exchanges]
    assert 207 in statuses
    for request, reply in sim.exchanges:
        validate_exchange(spec, request, reply)
    assert all(TOKEN not in (r.last_error or "") for r in rows)
    assert TOKEN not in caplog.text


def test_errors_are_matched_by_input_id_when_no_trace_id_comes_back() -> None:
    config = HubSpotConfig(access_token=SecretStr(TOKEN))
    ds = [delivery(1, "C-000001", FIELDS), delivery(2, "C-000002", FIELDS), delivery(3, "C-000003", FIELDS)]
    answer = {
        "status": "COMPLETE",
        "results": [{"id": "901", "properties": {"hub_case_id": "C-000002"}}],
        "errors": [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "bad",
                "context": {"ids": ["C-000001"]},
            },
            {"status": "error", "category": "INTERNAL_ERROR", "message": "hiccup", "context": {}},
        ],
    }
    first, second, third = HubSpotSink._match(config, ds, answer)
    assert not first.ok and not first.retryable and "bad" in (first.error or "")
    assert second.ok and second.external_id == "901"
    assert not third.ok and third.retryable and "hiccup" in (third.error or ""), "unanswered: retry (upsert)"


def test_429_without_retry_after_waits_for_the_window(
    sqlite_engine: Engine, tmp_path: Path, spec: dict[str, Any]
) -> None:
    sim = HubSpotSimulator(TOKEN, rate_limit=1, interval_ms=300)
    with sim:
        config = hub_config(sim, backoff_max_seconds=2.0, max_attempts=20)
        run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
        stats = Outbox(sqlite_engine, config).flush()
        rows = outbox_rows(sqlite_engine)
        assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
        assert sim.throttled_count >= 1 and sim.duplicates() == 0
        # each 429 is followed by a wait of the whole window, not a quick backoff that hits the limit again
        assert sim.throttled_count <= 3 and stats.failed == sim.throttled_count
        throttled = [(q, r) for q, r in sim.exchanges if r.status == 429]
        assert throttled and "Retry-After" not in throttled[0][1].headers
        for request, reply in throttled:
            validate_exchange(spec, request, reply)

        sim.fail_next(sim.throttled())
        (result,) = HubSpotSink().deliver(sink_config(sim), [delivery(1, "C-000009", FIELDS)])
        assert not result.ok and result.retryable and result.retry_after == pytest.approx(0.3)


def test_rate_limit_wait_reads_hubspots_headers() -> None:
    base = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000", "X-HubSpot-RateLimit-Remaining": "0"}
    assert rate_limit_wait(base) == 10.0
    assert (
        rate_limit_wait(
            {**base, "X-HubSpot-RateLimit-Remaining": "5", "X-HubSpot-RateLimit-Secondly-Remaining": "0"}
        )
        == 1.0
    )
    now = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    assert rate_limit_wait({**base, "X-HubSpot-RateLimit-Daily-Remaining": "0"}, now=now) == 3600.0
    assert rate_limit_wait({}) == 1.0


def test_a_whole_batch_400_is_retried_input_by_input(sim: HubSpotSimulator) -> None:
    sim.fail_next(Reply.json(error_body("VALIDATION_ERROR", "Invalid input JSON on line 1, column 2"), 400))
    ds = [delivery(1, "C-000001", FIELDS), delivery(2, "C-000002", {**FIELDS, "colour": "red"})]
    first, second = HubSpotSink().deliver(sink_config(sim), ds)
    assert first.ok and first.external_id in sim.records
    assert not second.ok and not second.retryable and "PROPERTY_DOESNT_EXIST" in (second.error or "")
    assert len(sim.requests) == 3


def test_batch_limit_is_100(sim: HubSpotSimulator, spec: dict[str, Any]) -> None:
    assert HubSpotSink.max_batch == 100
    inputs = [{"idProperty": "hub_case_id", "id": f"C-{i:06d}", "properties": FIELDS} for i in range(101)]
    answer = requests.post(
        sim.url + UPSERT, json={"inputs": inputs}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"
    validate(spec, answer.json(), "Error")
    results = HubSpotSink().deliver(
        sink_config(sim), [delivery(i, f"C-{i:06d}", FIELDS) for i in range(1, 101)]
    )
    assert all(r.ok for r in results) and len(sim.records) == 100 and sim.created == 100


def test_bad_token_fails_the_call_and_is_never_written_down(
    sqlite_engine: Engine, tmp_path: Path, sim: HubSpotSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "pat-na1-deadbeef-0000-0000-0000-000000000000"
    config = hub_config(sim, token=wrong, max_attempts=1)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert all(r.status == "dead" for r in rows if r.sequence == 1)
    assert any("INVALID_AUTHENTICATION" in (r.last_error or "") for r in rows)
    assert sim.records == {}
    assert all(wrong not in (r.last_error or "") for r in rows)
    assert wrong not in caplog.text
    with pytest.raises(AuthError) as info:
        HubSpotSink().deliver(sink_config(sim, access_token=wrong), [delivery(1, "C-000001", FIELDS)])
    assert wrong not in str(info.value)


def test_check(sim: HubSpotSimulator, spec: dict[str, Any]) -> None:
    sink = HubSpotSink()
    sink.check(sink_config(sim))
    with pytest.raises(CheckFailed, match="does not require unique values"):
        sink.check(sink_config(sim, id_property="subject"))
    with pytest.raises(CheckFailed, match="no property 'case_ref'"):
        sink.check(sink_config(sim, id_property="case_ref"))
    wrong = "pat-na1-badbadba-0000-0000-0000-000000000000"
    with pytest.raises(CheckFailed) as info:
        sink.check(sink_config(sim, access_token=wrong))
    assert "INVALID_AUTHENTICATION" in str(info.value) and wrong not in str(info.value)
    for request, reply in sim.exchanges:
        validate_exchange(spec, request, reply)
