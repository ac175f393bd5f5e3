"""Zendesk sink: mapping output against the ticket API's shape, and delivery through the outbox."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from connectors.zendesk import ZendeskConfig, ZendeskSink, create_payload, update_payload
from hub.case_comments import describe_change, event_marker
from hub.config import HubConfig, SinkInstance
from hub.errors import AuthError, CheckFailed
from hub.outbox import Outbox
from tests.core.test_pipeline import build_corpus, run_import
from tests.simulators.base import Reply
from tests.simulators.zendesk import PRIORITIES, STATUSES, TYPES, ZendeskSimulator
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

EMAIL, TOKEN = "agent@example.com", "zd-token-0123456789"


@pytest.fixture
def zd() -> Iterator[ZendeskSimulator]:
    with ZendeskSimulator(EMAIL, TOKEN) as sim:
        yield sim


def zd_config(
    sim: ZendeskSimulator,
    *,
    timeout: float = 2.0,
    token: str = TOKEN,
    mapping: Path = MAPPINGS / "zendesk.yaml",
    **delivery: Any,
) -> HubConfig:
    return HubConfig(
        sinks=[
            SinkInstance(
                name="zd",
                type="zendesk",
                mapping=str(mapping),
                config={"base_url": sim.url, "email": EMAIL, "api_token": token, "timeout": timeout},
                delivery=settings(**delivery),
            )
        ]
    )


def assert_one_ticket_per_case_updates_in_order(sim: ZendeskSimulator, engine: Engine) -> None:
    expected = events_per_case(engine)
    by_case = sim.by_external_id()
    assert set(by_case) == set(expected)
    for case_id, seqs in expected.items():
        assert len(by_case[case_id]) == 1, f"{case_id}: {len(by_case[case_id])} tickets"
        ticket = by_case[case_id][0]
        assert sequences([c.body for c in ticket.comments[1:]], case_id) == seqs[1:], case_id


# -- mapping output -------------------------------------------------------------------------------
def test_mapping_renders_a_documented_ticket_create_body() -> None:
    fields = render("zendesk")
    body = create_payload(fields, case_id="C-000042", public=False)
    assert set(body) == {"ticket"}
    ticket = body["ticket"]
    documented = {"subject", "comment", "requester", "external_id", "priority", "type", "status", "tags"}
    assert set(ticket) <= documented
    assert ticket["external_id"] == "C-000042"
    assert ticket["subject"].startswith("[product_quality] C-000042 ")
    assert "\n" not in ticket["subject"]
    assert set(ticket["comment"]) == {"body", "public"} and ticket["comment"]["public"] is False
    assert "电水壶漏水" in ticket["comment"]["body"]
    assert "HM20261101-20001" in ticket["comment"]["body"] and "SF1234567890123" in ticket["comment"]["body"]
    assert "email, voicemail" in ticket["comment"]["body"]
    assert ticket["requester"] == {"name": "Chen Mei", "email": "mei.chen@example.cn"}
    assert ticket["priority"] == "urgent" and ticket["priority"] in PRIORITIES
    assert ticket["status"] == "pending" and ticket["status"] in STATUSES
    assert ticket["type"] in TYPES
    assert ticket["tags"] == ["complaint_hub", "product_quality", "severe", "email", "voicemail"]
    assert all(" " not in t for t in ticket["tags"])


def test_mapping_without_customer_email_leaves_requester_out() -> None:
    case = {**SAMPLE_CASE, "customer": {"name": None, "emails": [], "phones": [], "handles": ["@mei"]}}
    ticket = create_payload(render("zendesk", case), case_id="C-000042", public=True)["ticket"]
    assert "requester" not in ticket and ticket["comment"]["public"] is True
    general = {**SAMPLE_CASE, "severity": "general", "status": "closed"}
    ticket = create_payload(render("zendesk", general), case_id="C-000042", public=False)["ticket"]
    assert ticket["priority"] == "normal" and ticket["status"] == "solved"


def test_update_body_is_a_comment_plus_priority_status_and_added_tags() -> None:
    fields = render("zendesk", {**SAMPLE_CASE, "status": "new"})
    d = sample_delivery(fields, external_id="1001")
    body = update_payload(
        fields, comment=describe_change(d), public=False, update_fields=["priority", "status", "tags"]
    )
    ticket = body["ticket"]
    assert set(ticket) == {"comment", "priority", "status", "additional_tags"}
    assert ticket["status"] == "open", "a ticket is never set back to new"
    assert ticket["comment"]["public"] is False
    comment = ticket["comment"]["body"]
    assert "New message via voicemail at 2026-11-03T02:00:00Z" in comment
    assert "水壶漏水 一直没有人处理" in comment
    assert comment.endswith(event_marker(d))


def test_change_descriptions_name_merge_split_reopen_and_sla_breach() -> None:
    merged = sample_delivery({}, type_="case.merged", data={"merged": "C-000007", "into": "C-000042"})
    assert "C-000007 was merged into this case" in describe_change(merged)
    gone = sample_delivery({}, type_="case.merged", data={"merged": "C-000042", "into": "C-000001"})
    assert "merged into C-000001" in describe_change(gone)
    split = sample_delivery({}, type_="case.split", data={"from": "C-000042", "to": "C-000050"})
    assert "new case C-000050" in describe_change(split)
    reopened = sample_delivery({}, data={"message_id": 9, "reopened": True})
    assert "reopened" in describe_change(reopened)
    breach = sample_delivery({}, type_="case.sla_breached", data={})
    assert "SLA breached" in describe_change(breach) and "2026-11-02T06:00:00Z" in describe_change(breach)
    relabel = sample_delivery({}, data={"severity": {"from": "general", "to": "severe"}, "status": "remedy"})
    text = describe_change(relabel)
    assert "Severity changed: general → severe" in text and "Status changed: remedy" in text


def test_config_needs_a_host_and_credentials() -> None:
    with pytest.raises(ValueError, match="subdomain"):
        ZendeskConfig.model_validate({"email": EMAIL, "api_token": TOKEN})
    with pytest.raises(ValueError, match="api_token"):
        ZendeskConfig.model_validate({"subdomain": "acme", "email": EMAIL})
    with pytest.raises(ValueError, match="bare subdomain"):
        ZendeskConfig.model_validate({"subdomain": "acme.zendesk.com", "oauth_token": "t"})
    cfg = ZendeskConfig.model_validate({"subdomain": "acme", "oauth_token": "t"})
    assert cfg.url == "https://acme.zendesk.com"


# -- delivery through the outbox --------------------------------------------------------------------
def test_one_ticket_per_case_and_updates_as_comments_in_order(
    sqlite_engine: Engine, tmp_path: Path, zd: ZendeskSimulator
) -> None:
    config = zd_config(zd)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    merge_second_into_first(sqlite_engine, config)
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert_one_ticket_per_case_updates_in_order(zd, sqlite_engine)
    # every row carries the ticket id; the create asked with the event id as idempotency key
    first = next(r for r in rows if r.case_id == 1 and r.sequence == 1)
    ticket = zd.by_external_id()["C-000001"][0]
    assert {r.external_id for r in rows if r.case_id == 1} == {str(ticket.id)}
    posts = [r for r in zd.requests if r.method == "POST"]
    assert len(posts) == len(zd.tickets)
    assert any(p.headers["idempotency-key"] == first.event_id for p in posts)
    basic = base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
    assert all(r.headers["authorization"] == f"Basic {basic}" for r in zd.requests)
    # updates: private comments, priority/status from the mapping, tags added
    gone = zd.by_external_id()["C-000002"][0]
    assert "merged into C-000001" in gone.comments[-1].body and gone.fields["status"] == "solved"
    assert not any(c.public for t in zd.tickets.values() for c in t.comments)
    assert "was merged into this case" in ticket.comments[-1].body
    assert "complaint_hub" in ticket.fields["tags"]
    puts = [r.json()["ticket"] for r in zd.requests if r.method == "PUT"]
    assert puts and all(set(p) <= {"comment", "priority", "status", "additional_tags"} for p in puts)


def test_lost_create_response_then_retry_links_the_existing_ticket(
    sqlite_engine: Engine, tmp_path: Path, zd: ZendeskSimulator
) -> None:
    config = zd_config(zd, timeout=0.5)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    zd.lose_next(lambda r: r.method == "POST", delay=1.0)  # the ticket is stored, the answer comes too late
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert all(r.status == "delivered" for r in rows)
    assert max(r.attempts for r in rows) == 2
    assert_one_ticket_per_case_updates_in_order(zd, sqlite_engine)
    assert len([r for r in zd.requests if r.method == "POST"]) == len(zd.tickets), "found, not created again"


def test_lost_create_response_is_replayed_by_the_idempotency_key(
    sqlite_engine: Engine, tmp_path: Path, zd: ZendeskSimulator
) -> None:
    config = zd_config(zd, timeout=0.5)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    zd.lookup_blind = True  # the external-id lookup misses: only the idempotency key protects
    zd.lose_next(lambda r: r.method == "POST", delay=1.0)
    Outbox(sqlite_engine, config).flush()
    assert all(r.status == "delivered" for r in outbox_rows(sqlite_engine))
    assert zd.idempotent_hits == 1 and zd.idempotent_conflicts == 0
    zd.lookup_blind = False
    assert_one_ticket_per_case_updates_in_order(zd, sqlite_engine)


def test_lost_update_response_adds_no_second_comment(
    sqlite_engine: Engine, tmp_path: Path, zd: ZendeskSimulator
) -> None:
    config = zd_config(zd, timeout=0.5)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    zd.lose_next(lambda r: r.method == "PUT", delay=1.0)
    Outbox(sqlite_engine, config).flush()
    assert all(r.status == "delivered" for r in outbox_rows(sqlite_engine))
    assert len([r for r in zd.requests if r.method == "PUT"]) == 2, "the retry saw its comment and stopped"
    assert_one_ticket_per_case_updates_in_order(zd, sqlite_engine)


def test_rate_limits_server_errors_and_drops_are_retried(
    sqlite_engine: Engine, tmp_path: Path, zd: ZendeskSimulator
) -> None:
    config = zd_config(zd, timeout=0.5, max_attempts=20)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    zd.fail_next(
        Reply.json({"error": "APIRateLimitExceeded"}, 429, {"Retry-After": "1"}),
        Reply(500, b"boom"),
        Reply(drop=True),
        Reply.json({"error": "APIRateLimitExceeded"}, 429, {"Retry-After": "1"}),
        Reply(503, b"maintenance"),
    )
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert max(r.attempts for r in rows) >= 2
    assert_one_ticket_per_case_updates_in_order(zd, sqlite_engine)


def test_record_invalid_goes_to_dead_letter_with_the_body(
    sqlite_engine: Engine, tmp_path: Path, zd: ZendeskSimulator
) -> None:
    mapping = tmp_path / "zendesk.yaml"
    text = (MAPPINGS / "zendesk.yaml").read_text(encoding="utf-8")
    mapping.write_text(text.replace("severe: urgent", "severe: critical"), encoding="utf-8")
    config = zd_config(zd, mapping=mapping)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    outbox = Outbox(sqlite_engine, config)
    outbox.flush()
    rows = outbox_rows(sqlite_engine)
    dead = [r for r in rows if r.status == "dead"]
    assert dead and all(r.attempts == 1 for r in dead), "a 422 is not retried"
    assert all("RecordInvalid" in (r.last_error or "") and "critical" in (r.last_error or "") for r in dead)
    severe_case = dead[0].case_id
    assert all(r.status == "pending" for r in rows if r.case_id == severe_case and r.sequence > 1)
    assert all(r.status == "delivered" for r in rows if r.case_id not in {d.case_id for d in dead})


def test_idempotency_key_reused_with_another_body_is_permanent() -> None:
    with ZendeskSimulator(EMAIL, TOKEN) as sim:
        sink = ZendeskSink()
        cfg = sink.configure({"base_url": sim.url, "email": EMAIL, "api_token": TOKEN})
        sim.lookup_blind = True
        first = sink.deliver(cfg, [sample_delivery(render("zendesk"), type_="case.created", sequence=1)])
        assert first[0].ok
        changed = {**render("zendesk"), "subject": "another subject"}
        second = sink.deliver(cfg, [sample_delivery(changed, type_="case.created", sequence=1)])
        assert not second[0].ok and second[0].retryable is False
        assert "IdempotentRequestError" in (second[0].error or "")
        assert sim.idempotent_conflicts == 1 and len(sim.tickets) == 1


def test_replayed_create_links_the_original_ticket() -> None:
    with ZendeskSimulator(EMAIL, TOKEN) as sim:
        sink = ZendeskSink()
        cfg = sink.configure({"base_url": sim.url, "email": EMAIL, "api_token": TOKEN})
        sim.lookup_blind = True
        d = sample_delivery(render("zendesk"), type_="case.created", sequence=1)
        a, b = sink.deliver(cfg, [d])[0], sink.deliver(cfg, [d])[0]
        assert a.ok and b.ok and a.external_id == b.external_id
        assert sim.idempotent_hits == 1 and len(sim.tickets) == 1


def test_oldest_ticket_wins_when_external_ids_repeat() -> None:
    with ZendeskSimulator(EMAIL, TOKEN) as sim:
        sink = ZendeskSink()
        cfg = sink.configure({"base_url": sim.url, "oauth_token": "oauth-abc"})
        sim.oauth = "oauth-abc"
        for i in range(2):  # two tickets carry the case id (e.g. one made by hand)
            sink.deliver(cfg, [sample_delivery(render("zendesk"), type_="case.created", event_id=f"evt_{i}")])
            sim.lookup_blind = True
        sim.lookup_blind = False
        assert len(sim.tickets) == 2
        result = sink.deliver(cfg, [sample_delivery(render("zendesk"))])[0]
        assert result.ok and result.external_id == str(min(sim.tickets))
        assert sim.requests[-1].headers["authorization"] == "Bearer oauth-abc"


def test_bad_token_is_an_auth_error_and_never_logged(
    sqlite_engine: Engine, tmp_path: Path, zd: ZendeskSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    config = zd_config(zd, token="wrong-token-value-42", max_attempts=1)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    sink = ZendeskSink()
    with pytest.raises(AuthError):
        sink.deliver(sink.configure(config.sinks[0].config), [sample_delivery({})])
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert zd.tickets == {} and rows and not any(r.status == "delivered" for r in rows)
    assert any("Couldn't authenticate you" in (r.last_error or "") for r in rows)
    assert_no_secrets(sqlite_engine, caplog, "wrong-token-value-42", TOKEN)


def test_check(zd: ZendeskSimulator) -> None:
    sink = ZendeskSink()
    sink.check(sink.configure({"base_url": zd.url, "email": EMAIL, "api_token": TOKEN}))
    with pytest.raises(CheckFailed) as err:
        sink.check(sink.configure({"base_url": zd.url, "email": EMAIL, "api_token": "nope-nope"}))
    assert "nope-nope" not in str(err.value) and "api_token" in str(err.value)


def test_recorded_requests_are_what_zendesk_documents(zd: ZendeskSimulator) -> None:
    sink = ZendeskSink()
    cfg = sink.configure({"base_url": zd.url, "email": EMAIL, "api_token": TOKEN, "comment_public": True})
    created = sink.deliver(cfg, [sample_delivery(render("zendesk"), type_="case.created", sequence=1)])[0]
    sink.deliver(cfg, [sample_delivery(render("zendesk"), external_id=created.external_id)])
    lookup, create, comments, put = zd.requests
    assert (lookup.method, lookup.path, lookup.param("external_id")) == ("GET", "/api/v2/tickets", "C-000042")
    assert (create.method, create.path) == ("POST", "/api/v2/tickets")
    assert create.headers["content-type"] == "application/json"
    assert create.json()["ticket"]["comment"]["public"] is True
    assert (comments.path, comments.param("sort_order")) == (
        f"/api/v2/tickets/{created.external_id}/comments",
        "desc",
    )
    assert (put.method, put.path) == ("PUT", f"/api/v2/tickets/{created.external_id}")
    assert put.json()["ticket"]["comment"]["public"] is True
