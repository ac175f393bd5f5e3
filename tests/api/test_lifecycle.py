"""The lifecycle service: transitions with who and when, resolution on close, reopen, assignment, notes,
corrections that stick, merge and split; every action is a case event with outbox rows, and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from hub.cases import CaseService
from hub.config import HubConfig, SinkInstance
from hub.db import session_scope
from hub.lifecycle import ActionRefused, InvalidAction, Lifecycle, Resolution, next_statuses
from hub.tables import (
    AuditRow,
    CaseCorrectionRow,
    CaseEventRow,
    CaseResolutionRow,
    CaseRow,
    CaseTransitionRow,
    OutboxRow,
)
from hub.users import add_user
from tests.api.helpers import T0, customer, make_case, message


@pytest.fixture
def config() -> HubConfig:
    return HubConfig(sinks=[SinkInstance(name="crm", type="webhook", config={"url": "http://127.0.0.1:9/x"})])


def _events(s: Session, case_id: int) -> list[CaseEventRow]:
    return list(
        s.exec(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(col(CaseEventRow.sequence))
        )
    )


def test_status_moves_forward_with_who_and_when_and_closing_needs_a_resolution(
    sqlite_engine: Engine, config: HubConfig
) -> None:
    later = T0 + timedelta(hours=30)
    with session_scope(sqlite_engine) as s:
        case = make_case(s, config)
        cid = case.id
        life = Lifecycle(s, config, "alice", now=later)
        assert next_statuses("new") == ["investigating", "contacting", "remedy", "closed"]
        life.change_status(case, "investigating", comment="checking with the warehouse")
        with pytest.raises(ActionRefused, match="back"):
            life.change_status(case, "new")
        with pytest.raises(InvalidAction, match="unknown status"):
            life.change_status(case, "solved")
        with pytest.raises(InvalidAction, match="resolution"):
            life.change_status(case, "closed")
        with pytest.raises(InvalidAction, match="resolution"):
            life.change_status(case, "closed", resolution=Resolution("  ", "refunded"))
        life.change_status(case, "contacting")
        life.change_status(
            case, "closed", resolution=Resolution("refund of 199 yuan", "customer accepted", "满意")
        )
        with pytest.raises(ActionRefused, match="reopen"):
            life.change_status(case, "remedy")
    with Session(sqlite_engine) as s:
        case = s.get(CaseRow, cid)
        assert case is not None and case.status == "closed" and case.closed_at is not None
        moves = s.exec(select(CaseTransitionRow).order_by(col(CaseTransitionRow.id))).all()
        assert [(m.from_status, m.to_status, m.actor) for m in moves] == [
            ("new", "investigating", "alice"),
            ("investigating", "contacting", "alice"),
            ("contacting", "closed", "alice"),
        ]
        assert moves[0].comment == "checking with the warehouse"
        res = s.exec(select(CaseResolutionRow)).one()
        assert (res.measures, res.result, res.customer_feedback, res.closed_by) == (
            "refund of 199 yuan",
            "customer accepted",
            "满意",
            "alice",
        )
        assert res.handling_seconds == pytest.approx(30 * 3600)
        events = _events(s, cid or 0)
        assert [e.type for e in events] == ["case.created"] + ["case.updated"] * 3
        assert [e.data["to"] for e in events[1:] if e.data] == ["investigating", "contacting", "closed"]
        assert all(e.actor == "alice" for e in events[1:])
        outbox = s.exec(select(OutboxRow).where(OutboxRow.case_id == cid)).all()
        assert sorted(r.sequence for r in outbox) == [1, 2, 3, 4] and {r.sink for r in outbox} == {"crm"}
        audit = [a.action for a in s.exec(select(AuditRow).order_by(col(AuditRow.id))).all()]
        assert audit == ["case.status"] * 3


def test_reopen_assign_and_notes(sqlite_engine: Engine, config: HubConfig) -> None:
    with session_scope(sqlite_engine) as s:
        add_user(s, "bert", "agent", None)
        case = make_case(s, config)
        life = Lifecycle(s, config, "alice", now=T0 + timedelta(hours=2))
        with pytest.raises(ActionRefused, match="not closed"):
            life.reopen(case, reason="x")
        life.change_status(case, "closed", resolution=Resolution("replaced", "done"))
        with pytest.raises(InvalidAction, match="reason"):
            life.reopen(case, reason=" ")
        life.reopen(case, reason="customer says it leaks again")
        assert case.status == "investigating" and case.closed_at is None
        life.assign(case, "bert")
        with pytest.raises(InvalidAction, match="no active user"):
            life.assign(case, "nobody")
        note = life.add_note(case, "  asked for a photo  ")
        with pytest.raises(InvalidAction):
            life.add_note(case, "   ")
        life.assign(case, None)
        cid = case.id or 0
    with Session(sqlite_engine) as s:
        data = [e.data or {} for e in _events(s, cid)]
        actions = [d.get("action") for d in data]
        assert actions == [None, "status", "reopen", "assign", "note", "assign"]
        assert data[3]["assignee"] == "bert" and data[5] == {
            "action": "assign",
            "assignee": None,
            "previous": "bert",
        }
        assert data[4] == {"action": "note", "note_id": note.id}, "the note's text stays internal"


def test_corrections_are_recorded_and_stick(sqlite_engine: Engine, config: HubConfig) -> None:
    with session_scope(sqlite_engine) as s:
        cust = customer(s)
        case = make_case(s, config, customer_id=cust, category="product_quality", follow_ups=1)
        due_general = case.sla_due_at
        life = Lifecycle(s, config, "alice", now=T0 + timedelta(days=3))
        with pytest.raises(InvalidAction, match="unknown category"):
            life.correct(case, category="weather")
        with pytest.raises(InvalidAction, match="nothing to correct"):
            life.correct(case, category="product_quality")
        life.correct(case, category="logistics", severity="severe", reason="parcel lost, 12315 mentioned")
        assert (case.category, case.severity) == ("logistics", "severe")
        assert case.sla_due_at is not None and due_general is not None and case.sla_due_at < due_general
        # more product-quality messages do not overturn the agent's category
        later = message(s, at=T0 + timedelta(days=4), customer_id=cust, category="product_quality")
        CaseService(s, config).append(case, later, {"by": "customer"})
        assert case.category == "logistics" and case.severity == "severe"
        # nor does a merge, which rebuilds the labels from the messages
        other = make_case(s, config, at=T0 + timedelta(days=5), customer_id=cust, category="product_quality")
        life.merge(case, other)
        assert case.category == "logistics" and case.severity == "severe"
        life.correct(case, severity="general")
        assert case.severity == "general" and case.severity_reasons == []
        cid = case.id
    with Session(sqlite_engine) as s:
        rows = s.exec(select(CaseCorrectionRow).order_by(col(CaseCorrectionRow.id))).all()
        assert [(r.field, r.old, r.new, r.actor) for r in rows] == [
            ("category", "product_quality", "logistics", "alice"),
            ("severity", "general", "severe", "alice"),
            ("severity", "severe", "general", "alice"),
        ]
        assert rows[0].reason == "parcel lost, 12315 mentioned"
        types = [e.type for e in _events(s, cid or 0)]
        assert "case.merged" in types and types.count("case.updated") >= 3


def test_merge_and_split_through_the_lifecycle(sqlite_engine: Engine, config: HubConfig) -> None:
    with session_scope(sqlite_engine) as s:
        cust = customer(s)
        keep = make_case(s, config, customer_id=cust, follow_ups=2)
        gone = make_case(s, config, at=T0 + timedelta(days=5), customer_id=cust)
        life = Lifecycle(s, config, "alice", now=T0 + timedelta(days=6))
        assert life.merge(keep, gone) == 1
        with pytest.raises(ActionRefused, match="merged into"):
            life.change_status(gone, "investigating")
        with pytest.raises(ActionRefused):
            life.merge(keep, keep)
        msgs = CaseService(s, config).messages(keep.id or 0)
        assert len(msgs) == 4
        new = life.split(keep, [msgs[-1].id or 0])
        with pytest.raises(InvalidAction, match="not in"):
            life.split(keep, [99999])
        with pytest.raises(InvalidAction, match="at least one"):
            life.split(keep, [])
        assert new.split_from_id == keep.id
        actions = [a.action for a in s.exec(select(AuditRow)).all()]
        assert actions == ["case.merge", "case.split"]
