"""Odoo sink: mapping output against the JSON-RPC execute_kw shape, and delivery through the outbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.odoo import OdooConfig, OdooSink, classify_error, rpc_payload, ticket_values
from hub.config import HubConfig, SinkInstance
from hub.errors import AuthError, CheckFailed, ConnectorError, TransientError
from hub.outbox import Outbox
from tests.core.test_pipeline import build_corpus, run_import
from tests.simulators.base import Reply
from tests.simulators.odoo import PRIORITIES, STAGES, TICKET_FIELDS, OdooSimulator
from tests.sinks.common import (
    MAPPINGS,
    SAMPLE_CASE,
    assert_no_secrets,
    events_per_case,
    merge_second_into_first,
    outbox_rows,
    render,
    sample_delivery,
    sequences,
    settings,
)

DB, UID, LOGIN, KEY = "hubdb", 2, "hub@example.com", "odoo-key-0123456789"


@pytest.fixture
def odoo() -> Iterator[OdooSimulator]:
    with OdooSimulator(DB, UID, LOGIN, KEY) as sim:
        yield sim


def sink_config(sim: OdooSimulator, **extra: Any) -> dict[str, Any]:
    return {
        "base_url": sim.url,
        "db": DB,
        "uid": UID,
        "api_key": KEY,
        "external_id_field": "x_hub_case_id",
        **extra,
    }


def odoo_config(
    sim: OdooSimulator,
    *,
    timeout: float = 2.0,
    mapping: Path = MAPPINGS / "odoo.yaml",
    extra: dict[str, Any] | None = None,
    **delivery: Any,
) -> HubConfig:
    return HubConfig(
        sinks=[
            SinkInstance(
                name="odoo",
                type="odoo",
                mapping=str(mapping),
                config=sink_config(sim, timeout=timeout, **(extra or {})),
                delivery=settings(**delivery),
            )
        ]
    )


def assert_one_ticket_per_case_updates_in_order(sim: OdooSimulator, engine: Engine) -> None:
    expected = events_per_case(engine)
    by_case = sim.tickets_by_case()
    assert set(by_case) == set(expected)
    for case_id, seqs in expected.items():
        assert len(by_case[case_id]) == 1, f"{case_id}: {len(by_case[case_id])} tickets"
        assert sequences(sim.notes_on(by_case[case_id][0]["id"]), case_id) == seqs[1:], case_id


# -- mapping output -------------------------------------------------------------------------------
def test_mapping_renders_documented_ticket_values_in_an_execute_kw_call() -> None:
    vals = ticket_values(render("odoo"), case_id="C-000042", external_id_field="x_hub_case_id")
    assert set(vals) <= TICKET_FIELDS | {"x_hub_case_id"}
    assert vals["x_hub_case_id"] == "C-000042"
    assert vals["name"].startswith("[product_quality] C-000042 ") and "\n" not in vals["name"]
    assert vals["priority"] == "3" and vals["priority"] in PRIORITIES
    assert vals["stage_id"] == "In Progress" and vals["stage_id"] in STAGES.values()
    assert (vals["partner_name"], vals["partner_email"]) == ("Chen Mei", "mei.chen@example.cn")
    assert vals["description"].startswith("<p>") and "HM20261101-20001" in vals["description"]
    general = render("odoo", {**SAMPLE_CASE, "severity": "general", "status": "closed"})
    assert general["priority"] == "1" and general["stage_id"] == "Solved"
    envelope = rpc_payload("object", "execute_kw", [DB, UID, KEY, "helpdesk.ticket", "create", [vals], {}])
    assert envelope["jsonrpc"] == "2.0" and envelope["method"] == "call"
    assert envelope["params"] == {
        "service": "object",
        "method": "execute_kw",
        "args": [DB, UID, KEY, "helpdesk.ticket", "create", [vals], {}],
    }


def test_errors_are_classified_by_name_and_message() -> None:
    def err(name: str, message: str, code: int = 200) -> dict[str, Any]:
        return {"code": code, "message": "Odoo Server Error", "data": {"name": name, "message": message}}

    assert isinstance(
        classify_error(err("odoo.exceptions.AccessDenied", "Access Denied"), "x", []), AuthError
    )
    assert isinstance(classify_error(err("odoo.exceptions.AccessError", "not allowed"), "x", []), AuthError)
    assert isinstance(
        classify_error(err("odoo.http.SessionExpiredException", "expired", 100), "x", []), AuthError
    )
    serial = err(
        "psycopg2.errors.SerializationFailure", "could not serialize access due to concurrent update"
    )
    assert isinstance(classify_error(serial, "x", []), TransientError)
    busy = err("odoo.exceptions.UserError", "The server is temporarily busy, try again")
    assert isinstance(classify_error(busy, "x", []), TransientError)
    bad = classify_error(err("odoo.exceptions.ValidationError", f"bad value near {KEY}"), "x", [KEY])
    assert type(bad) is ConnectorError and KEY not in str(bad) and "ValidationError" in str(bad)


def test_config_needs_uid_or_login() -> None:
    with pytest.raises(ValueError, match="uid"):
        OdooConfig.model_validate({"base_url": "x", "db": "d", "api_key": "k"})


# -- delivery through the outbox --------------------------------------------------------------------
def test_one_ticket_per_case_and_updates_as_notes_in_order(
    sqlite_engine: Engine, tmp_path: Path, odoo: OdooSimulator
) -> None:
    config = odoo_config(odoo)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    merge_second_into_first(sqlite_engine, config)
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert_one_ticket_per_case_updates_in_order(odoo, sqlite_engine)
    ticket = odoo.tickets_by_case()["C-000001"][0]
    assert {r.external_id for r in rows if r.case_id == 1} == {str(ticket["id"])}
    assert ticket["stage_id"] == 1 and ticket["priority"] == "3"  # "New" resolved to its id
    gone = odoo.tickets_by_case()["C-000002"][0]
    assert gone["stage_id"] == 4 and "merged into C-000001" in odoo.notes_on(gone["id"])[-1]
    assert all(m["subtype_xmlid"] == "mail.mt_note" for m in odoo.messages)
    assert all(set(vals) == {"priority", "stage_id"} for _, vals in odoo.writes)
    assert odoo.calls.count(("helpdesk.stage", "search_read")) <= 2, "stage names are looked up once"


def test_lost_create_response_then_retry_finds_and_links_the_ticket(
    sqlite_engine: Engine, tmp_path: Path, odoo: OdooSimulator
) -> None:
    config = odoo_config(odoo, timeout=0.5)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    odoo.lose_next(lambda r: OdooSimulator.is_call(r, "create"), delay=1.0)
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert all(r.status == "delivered" for r in rows)
    assert max(r.attempts for r in rows) == 2
    assert odoo.calls.count(("helpdesk.ticket", "create")) == len(odoo.tickets)
    assert_one_ticket_per_case_updates_in_order(odoo, sqlite_engine)


def test_lost_message_post_response_posts_no_second_note(
    sqlite_engine: Engine, tmp_path: Path, odoo: OdooSimulator
) -> None:
    config = odoo_config(odoo, timeout=0.5)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    odoo.lose_next(lambda r: OdooSimulator.is_call(r, "message_post"), delay=1.0)
    Outbox(sqlite_engine, config).flush()
    assert all(r.status == "delivered" for r in outbox_rows(sqlite_engine))
    assert odoo.calls.count(("helpdesk.ticket", "message_post")) == len(odoo.messages) == 2
    assert_one_ticket_per_case_updates_in_order(odoo, sqlite_engine)


def test_rate_limits_server_errors_and_temporary_rpc_errors_are_retried(
    sqlite_engine: Engine, tmp_path: Path, odoo: OdooSimulator
) -> None:
    config = odoo_config(odoo, timeout=0.5, max_attempts=20)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    odoo.fail_next(
        Reply(429, b"Too Many Requests", {"Retry-After": "1"}),
        Reply(502, b"<html>Bad Gateway</html>"),
        Reply(drop=True),
    )
    odoo.rpc_error_next(
        "psycopg2.errors.SerializationFailure", "could not serialize access due to concurrent update"
    )
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert max(r.attempts for r in rows) >= 2
    assert_one_ticket_per_case_updates_in_order(odoo, sqlite_engine)


def test_invalid_values_go_to_dead_letter_with_the_message(
    sqlite_engine: Engine, tmp_path: Path, odoo: OdooSimulator
) -> None:
    mapping = tmp_path / "odoo.yaml"
    text = (MAPPINGS / "odoo.yaml").read_text(encoding="utf-8")
    mapping.write_text(text.replace('severe: "3"', 'severe: "9"'), encoding="utf-8")
    config = odoo_config(odoo, mapping=mapping)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    dead = [r for r in rows if r.status == "dead"]
    assert dead and all(r.attempts == 1 for r in dead), "a validation error is not retried"
    assert all("Wrong value for helpdesk.ticket.priority: '9'" in (r.last_error or "") for r in dead)
    assert all(r.status == "delivered" for r in rows if r.case_id not in {d.case_id for d in dead})


def test_unknown_stage_name_is_permanent(odoo: OdooSimulator) -> None:
    sink = OdooSink()
    fields = {**render("odoo"), "stage_id": "Escalated"}
    result = sink.deliver(sink.configure(sink_config(odoo)), [sample_delivery(fields, type_="case.created")])[
        0
    ]
    assert (
        not result.ok and result.retryable is False and "no stage named 'Escalated'" in (result.error or "")
    )


def test_bad_key_is_access_denied_and_never_logged(
    sqlite_engine: Engine, tmp_path: Path, odoo: OdooSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    config = odoo_config(odoo, extra={"api_key": "wrong-key-value-42"}, max_attempts=1)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    sink = OdooSink()
    with pytest.raises(AuthError, match="AccessDenied"):
        sink.deliver(sink.configure(config.sinks[0].config), [sample_delivery({}, type_="case.created")])
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert odoo.tickets == {} and rows and not any(r.status == "delivered" for r in rows)
    assert any("Access Denied" in (r.last_error or "") for r in rows)
    assert_no_secrets(sqlite_engine, caplog, "wrong-key-value-42", KEY)


def test_login_is_authenticated_once(odoo: OdooSimulator) -> None:
    sink = OdooSink()
    cfg = sink.configure({**sink_config(odoo, uid=None), "login": LOGIN})
    for seq in (1, 2):
        assert sink.deliver(cfg, [sample_delivery(render("odoo"), type_="case.created", sequence=seq)])[0].ok
    auths = [r for r in odoo.requests if r.json()["params"]["method"] == "authenticate"]
    assert len(auths) == 1 and auths[0].json()["params"]["args"][:2] == [DB, LOGIN]
    bad = sink.configure({**sink_config(odoo, uid=None), "login": "someone@example.com"})
    with pytest.raises(AuthError, match="refused login"):
        sink.deliver(bad, [sample_delivery({})])


def test_check(odoo: OdooSimulator) -> None:
    sink = OdooSink()
    sink.check(sink.configure(sink_config(odoo)))
    with pytest.raises(CheckFailed, match="api_key"):
        sink.check(sink.configure(sink_config(odoo, api_key="nope-nope")))
    with pytest.raises(CheckFailed, match="no field 'x_other'"):
        sink.check(sink.configure(sink_config(odoo, external_id_field="x_other")))


def test_recorded_calls_are_json_rpc_execute_kw(odoo: OdooSimulator) -> None:
    sink = OdooSink()
    cfg = sink.configure(sink_config(odoo))
    created = sink.deliver(cfg, [sample_delivery(render("odoo"), type_="case.created", sequence=1)])[0]
    assert created.ok
    sink.deliver(cfg, [sample_delivery(render("odoo"), external_id=created.external_id)])
    assert all((r.method, r.path) == ("POST", "/jsonrpc") for r in odoo.requests)
    calls = [r.json()["params"] for r in odoo.requests]
    assert all(c["service"] == "object" and c["method"] == "execute_kw" for c in calls)
    assert [c["args"][3:5] for c in calls] == [
        ["helpdesk.ticket", "search_read"],
        ["helpdesk.stage", "search_read"],
        ["helpdesk.ticket", "create"],
        ["helpdesk.ticket", "write"],
        ["mail.message", "search_count"],
        ["helpdesk.ticket", "message_post"],
    ]
    search = calls[0]["args"]
    assert search[:3] == [DB, UID, KEY]
    assert search[5] == [[["x_hub_case_id", "=", "C-000042"]]]
    assert search[6]["context"] == {"active_test": False}
    post = calls[-1]["args"]
    assert post[5] == [[int(created.external_id or 0)]]
    assert post[6]["message_type"] == "comment" and post[6]["subtype_xmlid"] == "mail.mt_note"
    assert post[6]["body"].startswith("<p>") and post[6]["body_is_html"] is True
