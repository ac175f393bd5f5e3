"""The Salesforce sink against the simulator: mapping shape, upsert by external id, batches, errors, limits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from sqlalchemy import Engine
from sqlmodel import Session, select

from connectors.salesforce import SalesforceConfig, SalesforceSink
from hub.cases import public_id
from hub.config import DeliverySettings, HubConfig, SinkInstance
from hub.errors import AuthError, CheckFailed
from hub.mapping import load_mapping
from hub.outbox import Outbox
from hub.tables import SinkLinkRow
from tests.core.test_pipeline import build_corpus, run_import
from tests.simulators.base import Reply
from tests.simulators.salesforce import CASE_FIELDS, PICKLISTS, SalesforceSimulator
from tests.sinks.common import case_documents, delivery, outbox_rows

TOKEN = "00D5g000004Test!AQ4AQ.test-access-token-0123456789"
EXT = "Hub_Case_Id__c"
SEQ = "Hub_Event_Sequence__c"
MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "salesforce.yaml"


@pytest.fixture
def sim() -> Iterator[SalesforceSimulator]:
    s = SalesforceSimulator(TOKEN, custom_fields=(SEQ,))
    with s:
        yield s


def edited_mapping(tmp_path: Path, **fields: Any) -> Path:
    """A copy of the shipped mapping with some fields added or replaced (as ops would edit it)."""
    data = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))
    data["fields"].update(fields)
    path = tmp_path / f"salesforce-{len(list(tmp_path.glob('salesforce-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def with_sequence(tmp_path: Path) -> Path:
    """The mapping plus the event's sequence in a custom field, so the tests can see update order."""
    return edited_mapping(tmp_path, **{SEQ: "{{ event.sequence }}"})


def hub_config(
    sim: SalesforceSimulator,
    mapping: Path = MAPPING,
    *,
    token: str = TOKEN,
    timeout: float = 2.0,
    api_version: str = "v60.0",
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
                name="sf",
                type="salesforce",
                mapping=str(mapping),
                config={
                    "instance_url": sim.url,
                    "access_token": token,
                    "api_version": api_version,
                    "external_id_field": EXT,
                    "timeout": timeout,
                },
                delivery=DeliverySettings(**settings),
            )
        ]
    )


def sink_config(sim: SalesforceSimulator, **overrides: Any) -> SalesforceConfig:
    data = {"instance_url": sim.url, "access_token": TOKEN, "external_id_field": EXT, "timeout": 2.0}
    return SalesforceConfig.model_validate({**data, **overrides})


# -- mapping -----------------------------------------------------------------------------------
def test_mapping_output_uses_the_documented_case_fields_and_values(
    sqlite_engine: Engine, tmp_path: Path
) -> None:
    run_import(sqlite_engine, build_corpus(tmp_path / "c"))
    docs = case_documents(sqlite_engine)
    mapping = load_mapping(MAPPING, sink_type="salesforce")
    meta = {"type": "case.created", "sequence": 1, "event_id": "evt_x", "occurred_at": "2026-11-02T02:00:00Z"}
    rendered = {cid: mapping.render(doc, meta) for cid, doc in docs.items()}
    checker = SalesforceSimulator()
    for cid, fields in rendered.items():
        assert set(fields) <= set(CASE_FIELDS), (cid, set(fields) - set(CASE_FIELDS))
        assert checker._validate(fields) == [], (cid, fields)  # picklists, lengths, e-mail format
        for name, allowed in PICKLISTS.items():
            assert fields[name] in allowed
        assert fields["Subject"].startswith(f"[{docs[cid]['category']}] {cid}: ")
        assert "\n" not in fields["Subject"]
        assert f"Hub case: {cid}" in fields["Description"]

    kettle = rendered["C-000001"]  # e-mail + reply + voicemail, severe
    assert kettle["Priority"] == "High" and kettle["Status"] == "New" and kettle["Origin"] == "Email"
    assert kettle["SuppliedName"] == "Chen Mei"
    assert kettle["SuppliedEmail"] == "mei.chen@example.cn"
    assert kettle["SuppliedPhone"] == "+8613912345678"
    assert "Channels: email, voicemail" in kettle["Description"]
    assert "Orders: HM20261101-20001" in kettle["Description"]
    assert kettle["Description"].startswith("你好，订单号 HM20261101-20001 的电水壶收到后漏水")

    parcel = rendered["C-000004"]  # a courier exception with no customer
    assert parcel["Priority"] == "Medium" and parcel["Origin"] == "Web"
    assert "Tracking: SF1234567890123" in parcel["Description"]
    assert not {"SuppliedName", "SuppliedEmail", "SuppliedPhone"} & set(parcel)

    docs["C-000002"]["status"] = "closed"
    assert mapping.render(docs["C-000002"], meta)["Status"] == "Closed"


def test_requests_have_the_documented_shape(sim: SalesforceSimulator) -> None:
    sink, config = SalesforceSink(), sink_config(sim)
    fields = {"Subject": "kettle leaks", "Priority": "High", "Status": "New", "Origin": "Email"}
    results = sink.deliver(config, [delivery(1, "C-000001", fields), delivery(2, "C-000002", fields)])
    assert all(r.ok for r in results)
    batch = sim.requests[-1]
    assert (batch.method, batch.path) == ("PATCH", f"/services/data/v60.0/composite/sobjects/Case/{EXT}")
    assert batch.headers["authorization"] == f"Bearer {TOKEN}"
    body = batch.json()
    assert body["allOrNone"] is False
    assert body["records"] == [
        {"attributes": {"type": "Case"}, **fields, EXT: "C-000001"},
        {"attributes": {"type": "Case"}, **fields, EXT: "C-000002"},
    ]
    assert [r.external_id for r in results] == list(sim.records)

    one = sink.deliver(config, [delivery(3, "C-000003", fields)])
    single = sim.requests[-1]
    assert (single.method, single.path) == ("PATCH", f"/services/data/v60.0/sobjects/Case/{EXT}/C-000003")
    assert single.json() == fields, "the external id is in the URL, never in the body"
    assert one[0].ok and one[0].external_id in sim.records
    again = sink.deliver(config, [delivery(4, "C-000003", {**fields, "Status": "Working"})])
    assert again[0].external_id == one[0].external_id
    assert (sim.created, sim.updated) == (3, 1)
    assert sim.by_external_id()["C-000003"][0]["Status"] == "Working"


def test_update_on_api_before_46_answers_204_and_keeps_the_link(sim: SalesforceSimulator) -> None:
    sink, config = SalesforceSink(), sink_config(sim, api_version="v45.0")
    first = sink.deliver(config, [delivery(1, "C-000001", {"Subject": "a"})])[0]
    second = sink.deliver(config, [delivery(2, "C-000001", {"Subject": "b"}, external_id=first.external_id)])[
        0
    ]
    assert second.ok and second.external_id == first.external_id, "204 has no body: the link is kept"
    unlinked = sink.deliver(config, [delivery(3, "C-000001", {"Subject": "c"})])[0]
    assert unlinked.ok and unlinked.external_id is None
    assert (sim.created, sim.updated) == (1, 2)


# -- end to end through the outbox ----------------------------------------------------------------
def test_every_case_becomes_exactly_one_salesforce_case_with_updates_in_order(
    sqlite_engine: Engine, tmp_path: Path, sim: SalesforceSimulator
) -> None:
    config = hub_config(sim, with_sequence(tmp_path))
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    rows = outbox_rows(sqlite_engine)
    stats = Outbox(sqlite_engine, config).flush()
    assert stats.dead == 0 and stats.delivered == len(rows)
    docs = case_documents(sqlite_engine)
    records = sim.by_external_id()
    assert set(records) == set(docs) and sim.duplicates() == 0
    assert sim.created == len(docs) and sim.updated == len(rows) - len(docs)
    assert stats.calls < len(rows), "first events go in one composite call"
    mapping = load_mapping(MAPPING)
    for cid, doc in docs.items():
        (record,) = records[cid]
        expected = mapping.render(doc, {"type": "", "sequence": 0, "event_id": "", "occurred_at": ""})
        assert {k: record.get(k) for k in expected} == expected, cid
        sequences = [int(w[SEQ]) for w in sim.history[record["Id"]]]
        events = sorted(r.sequence for r in rows if public_id(r.case_id) == cid)
        assert sequences == events, (cid, sequences)
    with Session(sqlite_engine) as s:
        links = {public_id(link.case_id): link.external_id for link in s.exec(select(SinkLinkRow)).all()}
    assert links == {cid: recs[0]["Id"] for cid, recs in records.items()}


def test_a_lost_response_is_redelivered_without_a_second_case(
    sqlite_engine: Engine, tmp_path: Path, sim: SalesforceSimulator
) -> None:
    config = hub_config(sim, with_sequence(tmp_path), timeout=0.3)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    sim.answer_late(1.0, 1.0)  # the first two calls are applied, but the hub gives up waiting
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert max(r.attempts for r in rows) >= 2
    docs = case_documents(sqlite_engine)
    assert sim.duplicates() == 0 and sim.created == len(docs)
    assert {cid: len(recs) for cid, recs in sim.by_external_id().items()} == dict.fromkeys(docs, 1)
    for rid, writes in sim.history.items():
        sequences = [int(w[SEQ]) for w in writes]
        assert sequences == sorted(sequences), (rid, sequences)  # a repeat, never a step back


def test_a_record_error_dead_letters_only_that_case(
    sqlite_engine: Engine, tmp_path: Path, sim: SalesforceSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = edited_mapping(
        tmp_path, Priority={"from": "case.severity", "map": {"severe": "Urgent", "general": "Medium"}}
    )
    config = hub_config(sim, bad)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    dead = [r for r in rows if r.status == "dead"]
    assert stats.dead == 1 and len(dead) == 1 and public_id(dead[0].case_id) == "C-000001"
    assert dead[0].attempts == 1, "a record's own error is not retried"
    assert "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" in (dead[0].last_error or "")
    assert "Urgent" in (dead[0].last_error or "")
    later = [r for r in rows if r.case_id == dead[0].case_id and r.sequence > dead[0].sequence]
    assert later and all(r.status == "pending" for r in later), "the case's later events wait"
    others = [r for r in rows if r.case_id != dead[0].case_id]
    assert all(r.status == "delivered" for r in others)
    assert set(sim.by_external_id()) == {"C-000002", "C-000003", "C-000004"}
    assert all(TOKEN not in (r.last_error or "") for r in rows)
    assert TOKEN not in caplog.text


def test_request_limit_exceeded_is_retried_not_an_auth_failure(
    sqlite_engine: Engine, tmp_path: Path, sim: SalesforceSimulator
) -> None:
    config = hub_config(sim)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    sim.fail_next(sim.limit_exceeded(), sim.limit_exceeded(), Reply(500, b"[]"), Reply(drop=True))
    outbox = Outbox(sqlite_engine, config)
    stats = outbox.flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert stats.failed >= 4 and max(r.attempts for r in rows) >= 3
    assert sim.duplicates() == 0 and len(sim.records) == 4

    direct = SalesforceSink().deliver(sink_config(sim), [delivery(9, "C-000009", {"Subject": "x"})])
    assert direct[0].ok
    sim.fail_next(sim.limit_exceeded())
    limited = SalesforceSink().deliver(sink_config(sim), [delivery(10, "C-000010", {"Subject": "x"})])[0]
    assert not limited.ok and limited.retryable and "REQUEST_LIMIT_EXCEEDED" in (limited.error or "")


def test_several_matching_cases_are_a_permanent_error_naming_them(
    sqlite_engine: Engine, tmp_path: Path, sim: SalesforceSimulator
) -> None:
    twins = [sim.create({EXT: "C-000002", "Subject": f"entered by hand {i}"}) for i in range(2)]
    config = hub_config(sim)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    (dead,) = [r for r in rows if r.status == "dead"]
    assert public_id(dead.case_id) == "C-000002"
    assert all(t in (dead.last_error or "") for t in twins)
    assert all(r.status == "delivered" for r in rows if r is not dead)

    one = SalesforceSink().deliver(sink_config(sim), [delivery(1, "C-000002", {"Subject": "x"})])[0]
    assert sim.requests[-1].path.endswith(f"/sobjects/Case/{EXT}/C-000002")
    assert not one.ok and not one.retryable
    assert "2 Cases" in (one.error or "") and all(t in (one.error or "") for t in twins)


def test_an_expired_token_fails_the_call_and_is_never_written_down(
    sqlite_engine: Engine, tmp_path: Path, sim: SalesforceSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "00D5g000004Test!AQ4AQ.expired-token-9876543210"
    config = hub_config(sim, token=wrong, max_attempts=1)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert all(r.status == "dead" for r in rows if r.sequence == 1)
    assert any("INVALID_SESSION_ID" in (r.last_error or "") for r in rows)
    assert sim.records == {}
    assert all(wrong not in (r.last_error or "") for r in rows)
    assert wrong not in caplog.text
    sink = SalesforceSink()
    with pytest.raises(AuthError) as info:
        sink.deliver(sink_config(sim, access_token=wrong), [delivery(1, "C-000001", {})])
    assert wrong not in str(info.value)


def test_per_record_errors_and_a_refused_batch(sim: SalesforceSimulator) -> None:
    sink, config = SalesforceSink(), sink_config(sim)
    results = sink.deliver(
        config,
        [
            delivery(1, "C-000001", {"Subject": "fine"}),
            delivery(2, "C-000002", {"Subject": "x", "Mood__c": "cross"}),
            delivery(3, "C-000003", {"Subject": "y" * 300}),
        ],
    )
    assert [r.ok for r in results] == [True, False, False]
    assert "INVALID_FIELD" in (results[1].error or "") and not results[1].retryable
    assert "STRING_TOO_LONG" in (results[2].error or "") and not results[2].retryable

    calls = len(sim.requests)
    sim.fail_next(Reply.json([{"message": "Unexpected character", "errorCode": "JSON_PARSER_ERROR"}], 400))
    retried = sink.deliver(config, [delivery(4, "C-000004", {"Subject": "a"}), delivery(5, "C-000005", {})])
    assert all(r.ok for r in retried), "a refused batch is retried record by record"
    assert len(sim.requests) == calls + 3


def test_batch_limit_and_limit_info(sim: SalesforceSimulator) -> None:
    assert SalesforceSink.max_batch == 200
    too_many = {
        "allOrNone": False,
        "records": [{"attributes": {"type": "Case"}, EXT: f"C-{i:06d}"} for i in range(201)],
    }
    answer = requests.patch(
        f"{sim.url}/services/data/v60.0/composite/sobjects/Case/{EXT}",
        json=too_many,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    sink = SalesforceSink()
    results = sink.deliver(
        sink_config(sim), [delivery(i, f"C-{i:06d}", {"Subject": "s"}) for i in range(1, 201)]
    )
    assert all(r.ok for r in results) and len(sim.records) == 200
    assert sink.api_usage == (sim.api_used, sim.api_limit)


def test_check(sim: SalesforceSimulator) -> None:
    sink = SalesforceSink()
    sink.check(sink_config(sim))
    with pytest.raises(CheckFailed, match="no field 'Case_Ref__c'"):
        sink.check(sink_config(sim, external_id_field="Case_Ref__c"))
    with pytest.raises(CheckFailed, match="not marked External ID"):
        sink.check(sink_config(sim, external_id_field="Subject"))
    wrong = "00D5g000004Test!AQ4AQ.wrong-token-555"
    with pytest.raises(CheckFailed) as info:
        sink.check(sink_config(sim, access_token=wrong))
    assert "INVALID_SESSION_ID" in str(info.value) and wrong not in str(info.value)
