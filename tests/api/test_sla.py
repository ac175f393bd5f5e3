"""SLA: due times from the config, the sweep flags each overdue case once (case.sla_breached, outbox),
stalled shipments open a proactive case, and the queue sorts by time left."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from hub.config import HubConfig, SinkInstance, SlaSettings
from hub.db import session_scope
from hub.lifecycle import Lifecycle, Resolution
from hub.queue import CaseFilter, list_cases
from hub.sla import is_overdue, sweep, time_left
from hub.tables import CaseEventRow, CaseRow, CaseWorkRow, OutboxRow
from tests.api.helpers import T0, make_case, message


def _config() -> HubConfig:
    return HubConfig(
        sinks=[SinkInstance(name="crm", type="webhook", config={"url": "http://127.0.0.1:9/x"})],
        sla=SlaSettings(hours={"severe": 4, "general": 48}, category_hours={"logistics": {"general": 24}}),
    )


def test_due_times_follow_category_and_severity(sqlite_engine: Engine) -> None:
    config = _config()
    with session_scope(sqlite_engine) as s:
        general = make_case(s, config, category="product_quality")
        severe = make_case(s, config, severity="severe")
        parcel = make_case(s, config, category="logistics")
        assert general.sla_due_at is not None and severe.sla_due_at is not None and parcel.sla_due_at
        assert general.sla_due_at.replace(tzinfo=None) == (T0 + timedelta(hours=48)).replace(tzinfo=None)
        assert severe.sla_due_at.replace(tzinfo=None) == (T0 + timedelta(hours=4)).replace(tzinfo=None)
        assert parcel.sla_due_at.replace(tzinfo=None) == (T0 + timedelta(hours=24)).replace(tzinfo=None)
        now = T0 + timedelta(hours=5)
        assert is_overdue(severe, now) and not is_overdue(general, now)
        assert time_left(general, now) == 43 * 3600


def test_sweep_flags_overdue_cases_once_and_notifies_downstream(sqlite_engine: Engine) -> None:
    config = _config()
    with session_scope(sqlite_engine) as s:
        severe = make_case(s, config, severity="severe")
        general = make_case(s, config)
        closed = make_case(s, config, severity="severe")
        Lifecycle(s, config, "alice", now=T0 + timedelta(hours=1)).change_status(
            closed, "closed", resolution=Resolution("refund", "ok")
        )
        ids = severe.id, general.id, closed.id
    first = sweep(sqlite_engine, config, T0 + timedelta(hours=5))
    assert first.flagged == [ids[0]] and "1 overdue case(s) flagged" in str(first)
    assert sweep(sqlite_engine, config, T0 + timedelta(hours=6)).flagged == [], "flagged once"
    later = sweep(sqlite_engine, config, T0 + timedelta(hours=49))
    assert later.flagged == [ids[1]]
    with Session(sqlite_engine) as s:
        breaches = s.exec(select(CaseEventRow).where(CaseEventRow.type == "case.sla_breached")).all()
        assert sorted(e.case_id for e in breaches) == sorted([ids[0], ids[1]])
        assert all(e.actor == "sla" and (e.data or {}).get("overdue_seconds", 0) > 0 for e in breaches)
        rows = s.exec(select(OutboxRow).where(OutboxRow.type == "case.sla_breached")).all()
        assert len(rows) == 2 and {r.sink for r in rows} == {"crm"}
        work = s.get(CaseWorkRow, ids[0])
        assert work is not None and work.sla_breached_at is not None
        assert s.get(CaseWorkRow, ids[2]) is None, "a closed case is never flagged"


def test_a_stalled_shipment_opens_a_proactive_case_once(sqlite_engine: Engine) -> None:
    config = _config()
    with session_scope(sqlite_engine) as s:
        for hours, status in ((0, "info_received"), (10, "in_transit")):
            message(
                s,
                at=T0 + timedelta(hours=hours),
                channel="courier",
                text="快件已到达【上海转运中心】",
                category=None,
                courier_status=status,
                tracking_nos=["SF1234567890999"],
                actionable=False,
                non_actionable_reason="routine_scan",
            )
        # a parcel already named by a case, and one delivered: nothing to open
        named = make_case(s, config, tracking_nos=["YT1111111111111"])
        message(s, at=T0, channel="courier", courier_status="in_transit", tracking_nos=["YT1111111111111"])
        message(s, at=T0, channel="courier", courier_status="delivered", tracking_nos=["SF9999999999999"])
        assert named.id
    assert sweep(sqlite_engine, config, T0 + timedelta(hours=40)).proactive == [], "not 48 h yet"
    result = sweep(sqlite_engine, config, T0 + timedelta(hours=60))
    assert len(result.proactive) == 1
    assert sweep(sqlite_engine, config, T0 + timedelta(hours=61)).proactive == []
    with Session(sqlite_engine) as s:
        case = s.get(CaseRow, result.proactive[0])
        assert case is not None and case.category == "logistics" and case.status == "new"
        assert case.sla_due_at is not None
        assert case.sla_due_at.replace(tzinfo=None) == (T0 + timedelta(hours=84)).replace(tzinfo=None)


def test_queue_sorts_open_cases_by_time_left(sqlite_engine: Engine) -> None:
    config = _config()
    with session_scope(sqlite_engine) as s:
        general = make_case(s, config)  # due T0+48h
        severe = make_case(s, config, severity="severe", at=T0 + timedelta(hours=10))  # due T0+14h
        early = make_case(s, config, at=T0 - timedelta(hours=20))  # due T0+28h
        done = make_case(s, config, severity="severe", at=T0 - timedelta(days=3))
        Lifecycle(s, config, "alice", now=T0).change_status(done, "closed", resolution=Resolution("a", "b"))
        order = [severe.id, early.id, general.id]
    now = T0 + timedelta(hours=20)
    with Session(sqlite_engine) as s:
        page = list_cases(s, CaseFilter(), now=now)
        assert [c["id"] for c in page.items] == [*order, done.id], "closed cases last"
        assert page.items[0]["overdue"] is True and page.items[0]["sla_seconds_left"] == -6 * 3600
        assert page.items[-1]["sla_seconds_left"] is None
        open_only = list_cases(s, CaseFilter(status="open"), now=now)
        assert [c["id"] for c in open_only.items] == order
        overdue = list_cases(s, CaseFilter(overdue=True), now=now)
        assert [c["id"] for c in overdue.items] == [severe.id]
        ids = s.exec(select(CaseRow.id).order_by(col(CaseRow.id))).all()
        assert len(ids) == 4
