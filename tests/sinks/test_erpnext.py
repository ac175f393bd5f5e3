"""ERPNext sink: mapping output against the Issue / Comment API shape, and delivery through the outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.erpnext import ERPNextConfig, ERPNextSink, comment_payload, issue_payload
from hub.case_comments import describe_change
from hub.config import HubConfig, SinkInstance
from hub.errors import AuthError, CheckFailed
from hub.outbox import Outbox
from tests.core.test_pipeline import build_corpus, run_import
from tests.simulators.base import Reply
from tests.simulators.erpnext import PRIORITIES, STATUSES, ERPNextSimulator
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

KEY, SECRET = "erp-key-0123", "erp-secret-456789"


@pytest.fixture
def erp() -> Iterator[ERPNextSimulator]:
    with ERPNextSimulator(KEY, SECRET) as sim:
        yield sim


def erp_config(
    sim: ERPNextSimulator,
    *,
    timeout: float = 2.0,
    secret: str = SECRET,
    mapping: Path = MAPPINGS / "erpnext.yaml",
    **delivery: Any,
) -> HubConfig:
    return HubConfig(
        sinks=[
            SinkInstance(
                name="erp",
                type="erpnext",
                mapping=str(mapping),
                config={
                    "base_url": sim.url,
                    "api_key": KEY,
                    "api_secret": secret,
                    "unique_field": "hub_case_id",
                    "timeout": timeout,
                },
                delivery=settings(**delivery),
            )
        ]
    )


def assert_one_issue_per_case_updates_in_order(sim: ERPNextSimulator, engine: Engine) -> None:
    expected = events_per_case(engine)
    by_case = sim.issues_by_case()
    assert set(by_case) == set(expected)
    for case_id, seqs in expected.items():
        assert len(by_case[case_id]) == 1, f"{case_id}: {len(by_case[case_id])} issues"
        name = by_case[case_id][0]["name"]
        assert sequences(sim.comments_on(name), case_id) == seqs[1:], case_id


# -- mapping output -------------------------------------------------------------------------------
def test_mapping_renders_a_documented_issue_body() -> None:
    doc = issue_payload(render("erpnext"), case_id="C-000042", unique_field="hub_case_id")
    assert set(doc) <= {"subject", "description", "priority", "status", "raised_by", "hub_case_id"}
    assert doc["hub_case_id"] == "C-000042"
    assert doc["subject"].startswith("[product_quality] C-000042 ") and "\n" not in doc["subject"]
    assert doc["status"] == "Replied" and doc["status"] in STATUSES
    assert doc["priority"] == "High" and doc["priority"] in PRIORITIES
    assert doc["raised_by"] == "mei.chen@example.cn"
    assert doc["description"].startswith("<p>") and "电水壶漏水<br>陈美" in doc["description"]
    assert "HM20261101-20001" in doc["description"] and "SF1234567890123" in doc["description"]
    general = render("erpnext", {**SAMPLE_CASE, "severity": "general", "status": "closed"})
    assert general["priority"] == "Medium" and general["status"] == "Closed"


def test_comment_body_references_the_issue_and_escapes_text() -> None:
    d = sample_delivery({}, data={"message_id": 1})
    d.case = {**d.case, "messages": [{**d.case["messages"][0], "text": "<script>x</script> & co"}]}
    d.occurred_at = d.case["messages"][0]["received_at"]
    body = comment_payload("ISS-2026-00001", describe_change(d))
    assert set(body) == {"comment_type", "reference_doctype", "reference_name", "content"}
    assert body["comment_type"] == "Comment" and body["reference_doctype"] == "Issue"
    assert body["reference_name"] == "ISS-2026-00001"
    assert "&lt;script&gt;x&lt;/script&gt; &amp; co" in body["content"] and "<script>" not in body["content"]


def test_config_rejects_a_bad_fieldname() -> None:
    with pytest.raises(ValueError, match="fieldname"):
        ERPNextConfig.model_validate(
            {"base_url": "x", "api_key": "k", "api_secret": "s", "unique_field": "Hub ID"}
        )


# -- delivery through the outbox --------------------------------------------------------------------
def test_one_issue_per_case_and_updates_as_comments_in_order(
    sqlite_engine: Engine, tmp_path: Path, erp: ERPNextSimulator
) -> None:
    config = erp_config(erp)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    merge_second_into_first(sqlite_engine, config)
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert_one_issue_per_case_updates_in_order(erp, sqlite_engine)
    issue = erp.issues_by_case()["C-000001"][0]
    assert {r.external_id for r in rows if r.case_id == 1} == {issue["name"]}
    assert erp.duplicates_refused == 0
    gone = erp.issues_by_case()["C-000002"][0]
    assert gone["status"] == "Closed" and "merged into C-000001" in erp.comments_on(gone["name"])[-1]
    assert all(set(body) == {"priority", "status"} for _, body in erp.updates)
    assert all(r.headers["authorization"] == f"token {KEY}:{SECRET}" for r in erp.requests)


@pytest.mark.parametrize("duplicate_status", [409, 417])
def test_lost_create_response_then_retry_is_refused_and_linked(
    sqlite_engine: Engine, tmp_path: Path, duplicate_status: int
) -> None:
    with ERPNextSimulator(KEY, SECRET, duplicate_status=duplicate_status) as erp:
        config = erp_config(erp, timeout=0.5)
        run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
        erp.lose_next(lambda r: r.method == "POST" and r.path == "/api/resource/Issue", delay=1.0)
        Outbox(sqlite_engine, config).flush()
        rows = outbox_rows(sqlite_engine)
        assert all(r.status == "delivered" for r in rows)
        assert erp.duplicates_refused == 1
        assert_one_issue_per_case_updates_in_order(erp, sqlite_engine)
        lookup = next(r for r in erp.requests if r.method == "GET" and r.path == "/api/resource/Issue")
        assert json.loads(lookup.param("filters") or "") == [["hub_case_id", "=", "C-000001"]]


def test_lost_comment_response_posts_no_second_comment(
    sqlite_engine: Engine, tmp_path: Path, erp: ERPNextSimulator
) -> None:
    config = erp_config(erp, timeout=0.5)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    erp.lose_next(lambda r: r.method == "POST" and r.path == "/api/resource/Comment", delay=1.0)
    Outbox(sqlite_engine, config).flush()
    assert all(r.status == "delivered" for r in outbox_rows(sqlite_engine))
    posts = [r for r in erp.requests if r.method == "POST" and r.path == "/api/resource/Comment"]
    assert len(posts) == len(erp.comments) == 2
    assert_one_issue_per_case_updates_in_order(erp, sqlite_engine)


def test_rate_limits_and_server_errors_are_retried(
    sqlite_engine: Engine, tmp_path: Path, erp: ERPNextSimulator
) -> None:
    config = erp_config(erp, timeout=0.5, max_attempts=20)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    erp.fail_next(
        Reply.json({"exc_type": "TooManyRequestsError"}, 429, {"Retry-After": "1"}),
        Reply(502, b"<html>Bad Gateway</html>"),
        Reply(drop=True),
        Reply.json({"exc_type": "TooManyRequestsError"}, 429, {"Retry-After": "1"}),
    )
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert max(r.attempts for r in rows) >= 2
    assert_one_issue_per_case_updates_in_order(erp, sqlite_engine)


def test_validation_error_goes_to_dead_letter_with_the_body(
    sqlite_engine: Engine, tmp_path: Path, erp: ERPNextSimulator
) -> None:
    mapping = tmp_path / "erpnext.yaml"
    text = (MAPPINGS / "erpnext.yaml").read_text(encoding="utf-8")
    mapping.write_text(text.replace("severe: High", "severe: Urgent"), encoding="utf-8")
    config = erp_config(erp, mapping=mapping)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    dead = [r for r in rows if r.status == "dead"]
    assert dead and all(r.attempts == 1 for r in dead), "a 417 is not retried"
    assert all("-> 417" in (r.last_error or "") for r in dead)
    assert all("Could not find Priority: Urgent" in (r.last_error or "") for r in dead)
    assert all(r.status == "delivered" for r in rows if r.case_id not in {d.case_id for d in dead})
    assert erp.duplicates_refused == 0, "a validation error is not mistaken for a duplicate"


def test_bad_secret_is_an_auth_error_and_never_logged(
    sqlite_engine: Engine, tmp_path: Path, erp: ERPNextSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    config = erp_config(erp, secret="wrong-secret-value-42", max_attempts=1)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    sink = ERPNextSink()
    with pytest.raises(AuthError):
        sink.deliver(sink.configure(config.sinks[0].config), [sample_delivery({}, type_="case.created")])
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert erp.issues == {} and rows and not any(r.status == "delivered" for r in rows)
    assert any("AuthenticationError" in (r.last_error or "") for r in rows)
    assert_no_secrets(sqlite_engine, caplog, "wrong-secret-value-42", KEY)


def test_check(erp: ERPNextSimulator) -> None:
    sink = ERPNextSink()
    base = {"base_url": erp.url, "api_key": KEY, "api_secret": SECRET}
    sink.check(sink.configure(base))
    with pytest.raises(CheckFailed, match="api_secret"):
        sink.check(sink.configure({**base, "api_secret": "nope-nope"}))
    with pytest.raises(CheckFailed, match="custom field 'hub_ref'"):
        sink.check(sink.configure({**base, "unique_field": "hub_ref"}))


def test_recorded_requests_are_what_frappe_documents(erp: ERPNextSimulator) -> None:
    sink = ERPNextSink()
    cfg = sink.configure({"base_url": erp.url, "api_key": KEY, "api_secret": SECRET})
    created = sink.deliver(cfg, [sample_delivery(render("erpnext"), type_="case.created", sequence=1)])[0]
    assert created.ok and created.external_id == "ISS-2026-00001"
    updated = sink.deliver(cfg, [sample_delivery(render("erpnext"), external_id=created.external_id)])[0]
    assert updated.ok
    create, put, lookup, comment = erp.requests
    assert (create.method, create.path) == ("POST", "/api/resource/Issue")
    assert create.json()["hub_case_id"] == "C-000042"
    assert (put.method, put.path, put.json()) == (
        "PUT",
        "/api/resource/Issue/ISS-2026-00001",
        {"priority": "High", "status": "Replied"},
    )
    assert (lookup.method, lookup.path) == ("GET", "/api/resource/Comment")
    assert (comment.method, comment.path) == ("POST", "/api/resource/Comment")
    assert comment.json()["reference_name"] == "ISS-2026-00001"
