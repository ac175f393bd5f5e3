"""The merged queue as data: filtered, paginated case lists sorted by SLA time left, and case detail.

Both the REST API and the web UI call these functions; they only read.

Order: open cases first, the least time left (most overdue) first; closed
cases after them, most recently closed first.

Teams: a filter's ``teams`` (from :func:`hub.api.auth.team_scope`) keeps the cases
whose category or one of whose message channels is one of those teams'.

Word search: on PostgreSQL ``ILIKE '%word%'`` on message text and subject, served by
the pg_trgm GIN indexes of migration 0008 (when the extension could be created);
elsewhere a scan.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case as sql_case
from sqlalchemy import false, func, or_
from sqlmodel import Session, col, select

from hub.cases import public_id
from hub.config import TeamSettings
from hub.customers import customer_identities
from hub.export import case_document, iso
from hub.lifecycle import CaseForbidden, CaseNotFound, next_statuses, parse_case_id
from hub.matching import normalise_number
from hub.models import CaseStatus, Channel, utc
from hub.sla import time_left
from hub.tables import (
    CaseCorrectionRow,
    CaseEventRow,
    CaseNoteRow,
    CaseResolutionRow,
    CaseRow,
    CaseTransitionRow,
    CaseWorkRow,
    CustomerIdentityRow,
    CustomerRow,
    MessageKeyRow,
    MessageRow,
    UserRow,
)

__all__ = [
    "CaseFilter",
    "QueuePage",
    "case_detail",
    "case_in_teams",
    "customer_detail",
    "ensure_case_visible",
    "list_cases",
    "team_condition",
]

MAX_PER_PAGE = 200
_OPEN = [s.value for s in CaseStatus if s is not CaseStatus.closed]


@dataclass
class CaseFilter:
    """What to show. ``status``: a status, ``open`` (not closed) or None (all)."""

    status: str | None = None
    category: str | None = None
    severity: str | None = None
    channel: str | None = None
    assignee: str | None = None  # a user name, or "none" for unassigned
    overdue: bool | None = None
    q: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    customer_id: int | None = None
    include_merged: bool = False
    #: only the cases of these teams; None: every case (not part of :meth:`as_query`)
    teams: list[TeamSettings] | None = None

    def as_query(self) -> dict[str, str]:
        """The filter as query parameters (for links that keep it)."""
        out: dict[str, str] = {}
        for name in ("status", "category", "severity", "channel", "assignee", "q"):
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.overdue is not None:
            out["overdue"] = "true" if self.overdue else "false"
        if self.created_from:
            out["created_from"] = utc(self.created_from).date().isoformat()
        if self.created_to:
            out["created_to"] = utc(self.created_to).date().isoformat()
        return out


@dataclass
class QueuePage:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def doc(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
        }


def _where(session: Session, f: CaseFilter, now: datetime) -> list[Any]:
    conds: list[Any] = []
    if not f.include_merged:
        conds.append(col(CaseRow.merged_into_id).is_(None))
    if f.status == "open":
        conds.append(col(CaseRow.status).in_(_OPEN))
    elif f.status and f.status != "all":
        conds.append(CaseRow.status == f.status)
    if f.category:
        conds.append(CaseRow.category == f.category)
    if f.severity:
        conds.append(CaseRow.severity == f.severity)
    if f.channel:
        conds.append(
            col(CaseRow.id).in_(select(MessageRow.case_id).where(col(MessageRow.channel) == f.channel))
        )
    if f.assignee:
        assigned = select(CaseWorkRow.case_id)
        if f.assignee == "none":
            conds.append(col(CaseRow.id).not_in(assigned.where(col(CaseWorkRow.assignee_id).is_not(None))))
        else:
            user_id = session.exec(select(UserRow.id).where(UserRow.name == f.assignee)).first() or -1
            conds.append(col(CaseRow.id).in_(assigned.where(col(CaseWorkRow.assignee_id) == user_id)))
    if f.overdue is True:
        conds += [col(CaseRow.status).in_(_OPEN), col(CaseRow.sla_due_at) < now]
    elif f.overdue is False:
        conds.append(or_(col(CaseRow.status) == CaseStatus.closed.value, col(CaseRow.sla_due_at) >= now))
    if f.created_from:
        conds.append(col(CaseRow.created_at) >= f.created_from)
    if f.created_to:
        conds.append(col(CaseRow.created_at) < f.created_to)
    if f.customer_id:
        conds.append(CaseRow.customer_id == f.customer_id)
    if f.q and f.q.strip():
        conds.append(_search(session, f.q.strip()))
    if f.teams is not None:
        team = team_condition(f.teams)
        if team is not None:
            conds.append(team)
    return conds


def team_condition(teams: list[TeamSettings]) -> Any:
    """The SQL condition "a case of one of ``teams``"; None when one of them covers every case."""
    if any(t.covers_all for t in teams):
        return None
    categories = sorted({c for t in teams for c in t.categories})
    channels = sorted({c for t in teams for c in t.channels})
    parts: list[Any] = []
    if categories:
        parts.append(col(CaseRow.category).in_(categories))
    if channels:
        parts.append(
            col(CaseRow.id).in_(select(MessageRow.case_id).where(col(MessageRow.channel).in_(channels)))
        )
    return or_(*parts) if parts else false()


def case_in_teams(session: Session, case_id: int, teams: list[TeamSettings] | None) -> bool:
    """Whether case ``case_id`` is one of ``teams``' (always, for ``teams`` None)."""
    if teams is None:
        return True
    cond = team_condition(teams)
    if cond is None:
        return True
    found = session.exec(select(CaseRow.id).where(CaseRow.id == case_id, cond)).first()
    return found is not None


def ensure_case_visible(session: Session, case_id: str | int, teams: list[TeamSettings] | None) -> None:
    """Raise :class:`CaseNotFound` or :class:`CaseForbidden` (outside ``teams``) for a case one may not see."""
    case = _load(session, case_id)
    assert case.id is not None
    if not case_in_teams(session, case.id, teams):
        msg = f"{public_id(case.id)} is not a case of your teams"
        raise CaseForbidden(msg)


def _contains(session: Session, column: Any, q: str) -> Any:
    """``column`` contains ``q`` ignoring case: ``ILIKE`` on PostgreSQL (trigram-indexed), else a scan."""
    if session.get_bind().dialect.name == "postgresql":
        escaped = q.replace("/", "//").replace("%", "/%").replace("_", "/_")
        return col(column).ilike(f"%{escaped}%", escape="/")
    return col(column).icontains(q, autoescape=True)


def _search(session: Session, q: str) -> Any:
    """Exact hits first: a case id, an order or tracking number, a customer's e-mail, phone or handle.

    Only when nothing matches exactly: identities and names containing ``q``, and the words of
    messages (``ILIKE`` served by trigram indexes on PostgreSQL; a scan of the texts on SQLite).
    """
    cases: set[int] = set()
    digits = q.upper().removeprefix("C-")
    if q.upper().startswith("C-") and digits.isdigit():
        cases.add(int(digits))
    number = normalise_number(q)
    if len(number) >= 5:
        found = session.exec(
            select(MessageRow.case_id)
            .join(MessageKeyRow, col(MessageKeyRow.message_id) == col(MessageRow.id))
            .where(
                col(MessageKeyRow.kind).in_(["order", "tracking"]),
                col(MessageKeyRow.value) == number,
                col(MessageRow.case_id).is_not(None),
            )
        ).all()
        cases.update(c for c in found if c is not None)
    customers = set(
        session.exec(
            select(CustomerIdentityRow.customer_id).where(col(CustomerIdentityRow.value).in_({q, q.lower()}))
        ).all()
    )
    exact = [col(CaseRow.id).in_(cases)] if cases else []
    exact += [col(CaseRow.customer_id).in_(customers)] if customers else []
    if exact:
        return or_(*exact)
    return or_(
        col(CaseRow.customer_id).in_(
            select(CustomerIdentityRow.customer_id).where(
                col(CustomerIdentityRow.value).icontains(q, autoescape=True)
            )
        ),
        col(CaseRow.customer_id).in_(
            select(CustomerRow.id).where(col(CustomerRow.name).icontains(q, autoescape=True))
        ),
        col(CaseRow.id).in_(
            select(MessageRow.case_id).where(
                col(MessageRow.case_id).is_not(None),
                or_(_contains(session, MessageRow.text, q), _contains(session, MessageRow.subject, q)),
            )
        ),
    )


def list_cases(
    session: Session,
    f: CaseFilter | None = None,
    *,
    page: int = 1,
    per_page: int = 50,
    now: datetime | None = None,
) -> QueuePage:
    """One page of the queue for filter ``f``."""
    f = f or CaseFilter()
    now = utc(now) if now else datetime.now(UTC)
    page = max(1, page)
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    conds = _where(session, f, now)
    total = session.exec(select(func.count()).select_from(CaseRow).where(*conds)).one()
    closed_last = sql_case((col(CaseRow.status) == CaseStatus.closed.value, 1), else_=0)
    if f.status == "open" or f.overdue is True or (f.status and f.status not in ("all", "closed")):
        order: list[Any] = [col(CaseRow.sla_due_at), col(CaseRow.id)]  # no closed case can appear
    elif f.status == "closed":
        order = [col(CaseRow.closed_at).desc(), col(CaseRow.id).desc()]
    else:
        order = [closed_last, col(CaseRow.sla_due_at), col(CaseRow.id)]
    cases = list(
        session.exec(
            select(CaseRow).where(*conds).order_by(*order).offset((page - 1) * per_page).limit(per_page)
        ).all()
    )
    return QueuePage(_rows(session, cases, now), int(total), page, per_page)


def _rows(session: Session, cases: list[CaseRow], now: datetime) -> list[dict[str, Any]]:
    ids = [c.id for c in cases if c.id is not None]
    if not ids:
        return []
    counts: dict[int, int] = defaultdict(int)
    channels: dict[int, set[str]] = defaultdict(set)
    for case_id, channel, n in session.exec(
        select(MessageRow.case_id, MessageRow.channel, func.count())
        .where(col(MessageRow.case_id).in_(ids))
        .group_by(col(MessageRow.case_id), col(MessageRow.channel))
    ).all():
        assert case_id is not None
        counts[case_id] += n
        channels[case_id].add(channel)
    first: dict[int, tuple[str | None, str]] = {}
    for case_id, channel, subject, text in session.exec(
        select(
            MessageRow.case_id, MessageRow.channel, MessageRow.subject, func.substr(MessageRow.text, 1, 160)
        )
        .where(col(MessageRow.case_id).in_(ids))
        .order_by(col(MessageRow.occurred_at), col(MessageRow.id))
    ).all():
        assert case_id is not None
        if case_id not in first or (first[case_id][0] == "courier" and channel != Channel.courier.value):
            first[case_id] = (channel, ((subject + " · ") if subject else "") + (text or ""))
    cust_ids = {c.customer_id for c in cases if c.customer_id}
    names = (
        dict(
            session.exec(
                select(CustomerRow.id, CustomerRow.name).where(col(CustomerRow.id).in_(cust_ids))
            ).all()
        )
        if cust_ids
        else {}
    )
    work: dict[int, tuple[str | None, datetime | None]] = {}
    for case_id, user_name, breached in session.exec(
        select(CaseWorkRow.case_id, UserRow.name, CaseWorkRow.sla_breached_at)
        .join(UserRow, col(UserRow.id) == CaseWorkRow.assignee_id, isouter=True)
        .where(col(CaseWorkRow.case_id).in_(ids))
    ).all():
        work[case_id] = (user_name, breached)
    out = []
    for c in cases:
        assert c.id is not None
        left = time_left(c, now)
        assignee, breached = work.get(c.id, (None, None))
        out.append(
            {
                "case_id": public_id(c.id),
                "id": c.id,
                "status": c.status,
                "category": c.category,
                "severity": c.severity,
                "created_at": iso(c.created_at),
                "updated_at": iso(c.updated_at),
                "last_message_at": iso(c.last_message_at),
                "sla_due_at": iso(c.sla_due_at),
                "sla_seconds_left": round(left) if left is not None else None,
                "overdue": left is not None and left < 0,
                "sla_breach_flagged_at": iso(breached),
                "closed_at": iso(c.closed_at),
                "customer_id": c.customer_id,
                "customer_name": names.get(c.customer_id) if c.customer_id else None,
                "channels": sorted(channels.get(c.id, set())),
                "messages": counts.get(c.id, 0),
                "contact_count": c.contact_count,
                "assignee": assignee,
                "summary": first.get(c.id, (None, ""))[1],
            }
        )
    return out


def _load(session: Session, case_id: str | int) -> CaseRow:
    cid = parse_case_id(case_id)
    case = session.get(CaseRow, cid)
    if case is None:
        msg = f"no case {public_id(cid)}"
        raise CaseNotFound(msg)
    return case


def case_detail(session: Session, case_id: str | int, *, now: datetime | None = None) -> dict[str, Any]:
    """A case with its cross-channel timeline (how each message matched), work state and history."""
    now = utc(now) if now else datetime.now(UTC)
    case = _load(session, case_id)
    assert case.id is not None
    cid = case.id
    messages = list(
        session.exec(
            select(MessageRow)
            .where(MessageRow.case_id == cid)
            .order_by(col(MessageRow.occurred_at), col(MessageRow.id))
        ).all()
    )
    customer = session.get(CustomerRow, case.customer_id) if case.customer_id else None
    identities = customer_identities(session, customer.id or 0) if customer else []
    doc = case_document(case, messages, customer, identities)
    work = session.get(CaseWorkRow, cid)
    assignee = session.get(UserRow, work.assignee_id) if work and work.assignee_id else None
    events = session.exec(
        select(CaseEventRow).where(CaseEventRow.case_id == cid).order_by(col(CaseEventRow.sequence))
    ).all()
    notes = session.exec(
        select(CaseNoteRow).where(CaseNoteRow.case_id == cid).order_by(col(CaseNoteRow.created_at))
    ).all()
    transitions = session.exec(
        select(CaseTransitionRow).where(CaseTransitionRow.case_id == cid).order_by(col(CaseTransitionRow.at))
    ).all()
    resolutions = session.exec(
        select(CaseResolutionRow)
        .where(CaseResolutionRow.case_id == cid)
        .order_by(col(CaseResolutionRow.closed_at))
    ).all()
    corrections = session.exec(
        select(CaseCorrectionRow).where(CaseCorrectionRow.case_id == cid).order_by(col(CaseCorrectionRow.at))
    ).all()
    merged_from = session.exec(select(CaseRow.id).where(CaseRow.merged_into_id == cid)).all()
    split_into = session.exec(select(CaseRow.id).where(CaseRow.split_from_id == cid)).all()
    left = time_left(case, now)
    msg_docs = []
    for m, exported in zip(messages, doc["messages"], strict=True):
        data = m.data or {}
        msg_docs.append(
            {
                **exported,
                "id": m.id,
                "subject": m.subject,
                "language": m.language,
                "category": m.category,
                "severity": m.severity,
                "severity_reasons": data.get("severity_reasons") or [],
                "courier_status": m.courier_status,
                "customer_name": data.get("customer_name"),
                "match": {k: v for k, v in (m.matched_by or {}).items() if k != "candidates"},
            }
        )
    timeline: list[dict[str, Any]] = [{"kind": "message", "at": d["received_at"], **d} for d in msg_docs]
    timeline += [
        {"kind": "note", "at": iso(n.created_at), "id": n.id, "author": n.author, "text": n.text}
        for n in notes
    ]
    timeline += [
        {
            "kind": "event",
            "at": iso(e.occurred_at),
            "sequence": e.sequence,
            "type": e.type,
            "actor": e.actor,
            "data": e.data or {},
        }
        for e in events
    ]
    timeline.sort(key=lambda t: (t["at"] or "", {"message": 0, "event": 1, "note": 2}[t["kind"]]))
    return {
        **doc,
        "id": cid,
        "messages": msg_docs,
        "customer_id": case.customer_id,
        "closed_at": iso(case.closed_at),
        "contact_count": case.contact_count,
        "severity_reasons": case.severity_reasons or [],
        "category_votes": case.category_votes or {},
        "sla_seconds_left": round(left) if left is not None else None,
        "overdue": left is not None and left < 0,
        "sla_breach_flagged_at": iso(work.sla_breached_at) if work else None,
        "assignee": assignee.name if assignee else None,
        "assigned_at": iso(work.assigned_at) if work else None,
        "merged_into": public_id(case.merged_into_id) if case.merged_into_id else None,
        "split_from": public_id(case.split_from_id) if case.split_from_id else None,
        "merged_from": [public_id(i) for i in merged_from if i],
        "split_into": [public_id(i) for i in split_into if i],
        "next_statuses": next_statuses(case.status) if case.merged_into_id is None else [],
        "transitions": [
            {
                "from": t.from_status,
                "to": t.to_status,
                "actor": t.actor,
                "at": iso(t.at),
                "comment": t.comment,
            }
            for t in transitions
        ],
        "resolutions": [
            {
                "measures": r.measures,
                "result": r.result,
                "customer_feedback": r.customer_feedback,
                "closed_by": r.closed_by,
                "closed_at": iso(r.closed_at),
                "handling_hours": round(r.handling_seconds / 3600, 2)
                if r.handling_seconds is not None
                else None,
            }
            for r in resolutions
        ],
        "corrections": [
            {
                "field": c.field,
                "old": c.old,
                "new": c.new,
                "actor": c.actor,
                "at": iso(c.at),
                "reason": c.reason,
            }
            for c in corrections
        ],
        "notes": [{"id": n.id, "author": n.author, "at": iso(n.created_at), "text": n.text} for n in notes],
        "timeline": timeline,
    }


def customer_detail(
    session: Session,
    customer_id: int,
    *,
    now: datetime | None = None,
    teams: list[TeamSettings] | None = None,
) -> dict[str, Any] | None:
    """A customer's identities and cases (most urgent first; only those of ``teams`` when given)."""
    customer = session.get(CustomerRow, customer_id)
    if customer is None:
        return None
    page = list_cases(
        session,
        CaseFilter(customer_id=customer_id, include_merged=False, teams=teams),
        per_page=MAX_PER_PAGE,
        now=now,
    )
    return {
        "id": customer.id,
        "name": customer.name,
        "created_at": iso(customer.created_at),
        "identities": [
            {"kind": i.kind, "value": i.value, "first_seen_at": iso(i.first_seen_at)}
            for i in customer_identities(session, customer_id)
        ],
        "cases": page.items,
        "case_count": page.total,
    }
