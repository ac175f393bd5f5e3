"""``/api/cases``, ``/api/customers``, ``/api/me``: the merged queue for agents (and systems with a token).

Thin routes: each one calls :mod:`hub.queue` (reads) or :class:`hub.lifecycle.Lifecycle` (actions).
Every action answers with the case as ``GET /api/cases/{id}`` shows it afterwards.

When ``teams:`` are configured an agent lists, sees and acts on the cases of their teams only
(403 for a case outside them); ops and admin see every case.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlmodel import Session

from hub.api.auth import Principal, need_agent, team_scope
from hub.cases import public_id
from hub.db import session_scope
from hub.lifecycle import ORDER, InvalidAction, Lifecycle, Resolution
from hub.models import CaseStatus, Category, Channel, Severity
from hub.queue import (
    MAX_PER_PAGE,
    CaseFilter,
    case_detail,
    case_in_teams,
    customer_detail,
    ensure_case_visible,
    list_cases,
)
from hub.stats import StatsError, parse_day
from hub.tables import CaseRow

router = APIRouter(prefix="/api", tags=["cases"])

STATUS_FILTERS = [*ORDER, "open", "all"]


def _choice(name: str, value: str | None, allowed: list[str]) -> str | None:
    if value in (None, ""):
        return None
    if value not in allowed:
        msg = f"{name} must be one of {', '.join(allowed)}, not {value!r}"
        raise InvalidAction(msg)
    return value


def _date(name: str, value: str | None, *, end: bool = False) -> datetime | None:
    try:
        return parse_day(value, end=end)
    except StatsError as exc:
        raise InvalidAction(f"{name}: {exc}") from None


def build_filter(
    *,
    status: str | None = None,
    category: str | None = None,
    severity: str | None = None,
    channel: str | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    q: str | None = None,
    created_from: str | None = None,
    created_to: str | None = None,
    me: str | None = None,
) -> CaseFilter:
    """A validated :class:`CaseFilter` from query parameters (``assignee=me`` is the caller)."""
    return CaseFilter(
        status=_choice("status", status, STATUS_FILTERS),
        category=_choice("category", category, [c.value for c in Category]),
        severity=_choice("severity", severity, [s.value for s in Severity]),
        channel=_choice("channel", channel, [c.value for c in Channel]),
        assignee=(me if assignee == "me" else assignee) or None,
        overdue=overdue,
        q=(q or "").strip()[:200] or None,
        created_from=_date("created_from", created_from),
        created_to=_date("created_to", created_to, end=True),
    )


@router.get("/me")
def me(who: Annotated[Principal, Depends(need_agent)]) -> dict[str, Any]:
    """The caller: name, role, and how they signed in."""
    return {"name": who.name, "role": who.role.value, "via": who.via}


@router.get("/cases")
def cases_list(
    request: Request,
    who: Annotated[Principal, Depends(need_agent)],
    status: Annotated[str | None, Query(description="a status, `open` (not closed) or `all`")] = None,
    category: str | None = None,
    severity: str | None = None,
    channel: str | None = None,
    assignee: Annotated[str | None, Query(description="a user name, `me` or `none`")] = None,
    overdue: bool | None = None,
    q: Annotated[str | None, Query(description="case id, order/tracking number, customer, or text")] = None,
    created_from: Annotated[str | None, Query(description="YYYY-MM-DD (UTC), inclusive")] = None,
    created_to: Annotated[str | None, Query(description="YYYY-MM-DD (UTC), inclusive")] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> dict[str, Any]:
    """The queue: open cases first, least SLA time left first; closed cases last."""
    f = build_filter(
        status=status,
        category=category,
        severity=severity,
        channel=channel,
        assignee=assignee,
        overdue=overdue,
        q=q,
        created_from=created_from,
        created_to=created_to,
        me=who.name,
    )
    f.teams = team_scope(request.app.state.config, who)
    with Session(request.app.state.engine) as session:
        return list_cases(session, f, page=page, per_page=per_page).doc()


@router.get("/cases/{case_id}")
def case_get(
    request: Request, case_id: str, who: Annotated[Principal, Depends(need_agent)]
) -> dict[str, Any]:
    """One case: labels, customer, SLA, work state, history, and the cross-channel timeline."""
    with Session(request.app.state.engine) as session:
        ensure_case_visible(session, case_id, team_scope(request.app.state.config, who))
        return case_detail(session, case_id)


def lifecycle_for(request: Request, who: Principal, session: Session) -> Lifecycle:
    """Case actions for ``who``: limited to the cases of their teams when teams are configured."""
    teams = team_scope(request.app.state.config, who)

    def allowed(case: CaseRow) -> bool:
        return case.id is not None and case_in_teams(session, case.id, teams)

    return Lifecycle(
        session, request.app.state.config, who.name, allowed=allowed if teams is not None else None
    )


def act(request: Request, who: Principal, case_id: str, action: Callable[[Lifecycle, CaseRow], Any]) -> int:
    """Run ``action`` on the case in one transaction; return the id of the case to show afterwards.

    Every case the action looks up (``life.get``) must be one of the caller's teams (403 otherwise).
    """
    with session_scope(request.app.state.engine) as session:
        life = lifecycle_for(request, who, session)
        case = life.get(case_id)
        result = action(life, case)
        assert case.id is not None
        return result.id if isinstance(result, CaseRow) and result.id is not None else case.id


def _show(request: Request, case_id: int) -> dict[str, Any]:
    with Session(request.app.state.engine) as session:
        return case_detail(session, case_id)


class AssignBody(BaseModel):
    assignee: str | None = Field(None, description="user name; null or empty to unassign")


class StatusBody(BaseModel):
    status: str = Field(description=" → ".join(s.value for s in CaseStatus))
    comment: str | None = None
    measures: str | None = Field(None, description="closing: the measures taken (required)")
    result: str | None = Field(None, description="closing: the result (required)")
    customer_feedback: str | None = Field(None, description="closing: what the customer said")


class ReopenBody(BaseModel):
    reason: str
    status: str = CaseStatus.investigating.value


class NoteBody(BaseModel):
    text: str


class MergeBody(BaseModel):
    other: str = Field(description="the case merged into this one (it is closed as merged)")


class SplitBody(BaseModel):
    message_ids: list[int] = Field(description="messages moved into a new case")


class CorrectBody(BaseModel):
    category: str | None = None
    severity: str | None = None
    reason: str | None = None


Agent = Annotated[Principal, Depends(need_agent)]


@router.post("/cases/{case_id}/assign")
def case_assign(request: Request, case_id: str, body: AssignBody, who: Agent) -> dict[str, Any]:
    cid = act(request, who, case_id, lambda life, case: life.assign(case, body.assignee or None))
    return _show(request, cid)


def resolution_of(measures: str | None, result: str | None, feedback: str | None) -> Resolution | None:
    if measures is None and result is None:
        return None
    return Resolution(measures or "", result or "", feedback)


@router.post("/cases/{case_id}/status")
def case_status(request: Request, case_id: str, body: StatusBody, who: Agent) -> dict[str, Any]:
    """Move the case forward along the lifecycle; ``closed`` needs ``measures`` and ``result``."""
    resolution = resolution_of(body.measures, body.result, body.customer_feedback)
    cid = act(
        request,
        who,
        case_id,
        lambda life, case: life.change_status(case, body.status, comment=body.comment, resolution=resolution),
    )
    return _show(request, cid)


@router.post("/cases/{case_id}/reopen")
def case_reopen(request: Request, case_id: str, body: ReopenBody, who: Agent) -> dict[str, Any]:
    cid = act(request, who, case_id, lambda life, case: life.reopen(case, reason=body.reason, to=body.status))
    return _show(request, cid)


@router.post("/cases/{case_id}/notes")
def case_note(request: Request, case_id: str, body: NoteBody, who: Agent) -> dict[str, Any]:
    cid = act(request, who, case_id, lambda life, case: life.add_note(case, body.text))
    return _show(request, cid)


@router.post("/cases/{case_id}/merge")
def case_merge(request: Request, case_id: str, body: MergeBody, who: Agent) -> dict[str, Any]:
    """Merge case ``other`` into this case."""
    cid = act(request, who, case_id, lambda life, case: life.merge(case, life.get(body.other)))
    return _show(request, cid)


@router.post("/cases/{case_id}/split")
def case_split(request: Request, case_id: str, body: SplitBody, who: Agent) -> dict[str, Any]:
    """Move the given messages into a new case; answers with the new case."""
    cid = act(request, who, case_id, lambda life, case: life.split(case, body.message_ids))
    return _show(request, cid)


@router.post("/cases/{case_id}/correct")
def case_correct(request: Request, case_id: str, body: CorrectBody, who: Agent) -> dict[str, Any]:
    """Correct category and/or severity (recorded with the classifier's value)."""
    cid = act(
        request,
        who,
        case_id,
        lambda life, case: life.correct(
            case, category=body.category or None, severity=body.severity or None, reason=body.reason
        ),
    )
    return _show(request, cid)


@router.get("/customers/{customer_id}")
def customer_get(request: Request, customer_id: int, who: Agent) -> dict[str, Any]:
    """A customer's identities (e-mail, phone, handles) and cases."""
    with Session(request.app.state.engine) as session:
        doc = customer_detail(session, customer_id, teams=team_scope(request.app.state.config, who))
    if doc is None:
        raise HTTPException(404, f"no customer {customer_id}")
    return doc


def case_link(case_id: int) -> str:
    return f"/cases/{public_id(case_id)}"
