"""SLA: time left per case, the sweep that flags overdue cases, and stalled shipments.

- A case is *overdue* when it is open (not closed, not merged away) and its
  ``sla_due_at`` (from ``sla.hours`` / ``sla.category_hours``) has passed.
- :func:`sweep` flags each overdue case **once** (``case_work.sla_breached_at``)
  and records ``case.sla_breached``, which the outbox sends to every sink.
- It also opens a proactive logistics case for a shipment whose latest courier
  scan is an ordinary "moving" state older than ``sla.stalled_shipment_hours``
  (48 h by default) when no case names that parcel yet.

The sweep is meant to run periodically (celery beat's ``hub.sla_sweep``, or ``POST /api/sla/sweep``);
it is idempotent: running it twice flags and opens nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from hub.cases import CaseService
from hub.config import HubConfig
from hub.db import session_scope
from hub.export import iso
from hub.models import CaseStatus, Category, Channel, CourierStatus, utc
from hub.tables import CaseRow, CaseWorkRow, MessageKeyRow, MessageRow
from hub.users import audit

__all__ = ["STALLED_HOURS", "SweepResult", "is_overdue", "sweep", "sweep_session", "time_left"]

#: default hours without a courier scan after which a moving shipment counts as stalled
STALLED_HOURS = 48.0
#: a shipment last scanned longer ago than this is history, not a stalled parcel
STALLED_HORIZON = timedelta(days=30)
_MOVING = {
    CourierStatus.pending.value,
    CourierStatus.info_received.value,
    CourierStatus.in_transit.value,
    CourierStatus.out_for_delivery.value,
    CourierStatus.unknown.value,
}


@dataclass
class SweepResult:
    flagged: list[int] = field(default_factory=list)
    proactive: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return self.summary()

    def summary(self) -> str:
        return f"{len(self.flagged)} overdue case(s) flagged, {len(self.proactive)} stalled shipment case(s) opened"


def time_left(case: CaseRow, now: datetime) -> float | None:
    """Seconds until the case is due (negative when overdue); None when closed or without a due time."""
    if case.status == CaseStatus.closed.value or case.sla_due_at is None:
        return None
    return (utc(case.sla_due_at) - utc(now)).total_seconds()


def is_overdue(case: CaseRow, now: datetime) -> bool:
    left = time_left(case, now)
    return left is not None and left < 0


def sweep_session(
    session: Session, config: HubConfig, now: datetime | None = None, *, limit: int = 5000
) -> SweepResult:
    """Flag overdue cases (once each) and open cases for stalled shipments, in the caller's transaction."""
    at = utc(now) if now else datetime.now(UTC)
    result = SweepResult()
    service = CaseService(session, config)
    overdue = session.exec(
        select(CaseRow, CaseWorkRow)
        .join(CaseWorkRow, col(CaseWorkRow.case_id) == CaseRow.id, isouter=True)
        .where(
            CaseRow.status != CaseStatus.closed.value,
            col(CaseRow.merged_into_id).is_(None),
            col(CaseRow.sla_due_at).is_not(None),
            col(CaseRow.sla_due_at) < at,
            col(CaseWorkRow.sla_breached_at).is_(None),
        )
        .order_by(col(CaseRow.sla_due_at))
        .limit(limit)
    ).all()
    for case, work in overdue:
        assert case.id is not None and case.sla_due_at is not None
        if work is None:
            work = CaseWorkRow(case_id=case.id)
        work.sla_breached_at = at
        work.sla_breached_due_at = case.sla_due_at
        session.add(work)
        overdue_s = round((at - utc(case.sla_due_at)).total_seconds())
        data = {"sla_due_at": iso(case.sla_due_at), "overdue_seconds": overdue_s}
        service.record(case, "case.sla_breached", at, data, actor="sla")
        audit(session, "sla", "case.sla_breached", case_id=case.id, at=at, **data)
        result.flagged.append(case.id)
    hours = config.sla.stalled_shipment_hours
    result.proactive = open_stalled_shipments(session, config, at, hours=hours)
    return result


def open_stalled_shipments(session: Session, config: HubConfig, now: datetime, *, hours: float) -> list[int]:
    """Open a proactive logistics case for each parcel stuck in a moving state for ``hours``."""
    cutoff = now - timedelta(hours=hours)
    latest = (
        select(MessageKeyRow.value, func.max(MessageRow.occurred_at).label("last"))
        .join(MessageRow, col(MessageRow.id) == MessageKeyRow.message_id)
        .where(
            MessageKeyRow.kind == "tracking",
            MessageRow.channel == Channel.courier.value,
            col(MessageRow.occurred_at) >= now - STALLED_HORIZON,
        )
        .group_by(col(MessageKeyRow.value))
        .subquery()
    )
    stale = session.exec(select(latest.c.value).where(latest.c.last < cutoff)).all()
    opened: list[int] = []
    service = CaseService(session, config)
    for value in stale:
        msgs = session.exec(
            select(MessageRow)
            .join(MessageKeyRow, col(MessageKeyRow.message_id) == MessageRow.id)
            .where(MessageKeyRow.kind == "tracking", MessageKeyRow.value == value)
            .order_by(col(MessageRow.occurred_at), col(MessageRow.id))
        ).all()
        if not msgs or any(m.case_id is not None for m in msgs):
            continue  # a case already names this parcel
        last = next((m for m in reversed(msgs) if m.channel == Channel.courier.value), None)
        if last is None or last.courier_status not in _MOVING:
            continue
        last.actionable = True
        last.non_actionable_reason = None
        stalled_for = round((now - utc(last.occurred_at)).total_seconds() / 3600, 1)
        case = service.open(
            last,
            customer_id=last.customer_id,
            detail={"reason": "stalled_shipment", "tracking_no": value, "stalled_hours": stalled_for},
        )
        votes = dict(case.category_votes or {})
        votes[Category.logistics.value] = max(votes.values(), default=0.0) + 1.0
        case.category_votes = votes
        case.category = Category.logistics.value
        # due from now: nobody could act on the parcel before it was noticed
        case.sla_due_at = now + timedelta(hours=config.sla.due_hours(case.category, case.severity))
        session.add(case)
        assert case.id is not None
        audit(session, "sla", "case.stalled_shipment", case_id=case.id, at=now, tracking_no=value)
        opened.append(case.id)
    return opened


def sweep(engine: Engine, config: HubConfig, now: datetime | None = None) -> SweepResult:
    """One sweep in its own transaction (celery beat's ``hub.sla_sweep``, ``POST /api/sla/sweep``)."""
    with session_scope(engine) as session:
        return sweep_session(session, config, now)
