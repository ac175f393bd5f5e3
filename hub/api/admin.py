"""Admin routes: users, API tokens and the audit log. Agents and ops get 403."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from hub.api.auth import Principal, need_admin
from hub.cases import public_id
from hub.db import session_scope
from hub.export import iso
from hub.lifecycle import parse_case_id
from hub.tables import AuditRow, UserRow
from hub.users import Role, add_user, create_token, disable_user, list_users, set_teams

router = APIRouter(prefix="/api", tags=["admin"])
Admin = Annotated[Principal, Depends(need_admin)]


def user_doc(u: UserRow) -> dict[str, Any]:
    return {
        "name": u.name,
        "role": u.role,
        "teams": list(u.teams or []),
        "disabled": u.disabled,
        "created_at": iso(u.created_at),
        "last_login_at": iso(u.last_login_at),
    }


class NewUser(BaseModel):
    name: str
    role: Role = Role.agent
    password: str | None = None
    teams: list[str] = Field(default_factory=list, description="team names from the `teams:` configuration")


class Teams(BaseModel):
    teams: list[str] = Field(description="the user's teams (replaces them; empty: no team)")


def _known_teams(request: Request) -> list[str] | None:
    """The configured team names (None when no team is configured: any name is kept)."""
    teams = request.app.state.config.teams
    return [t.name for t in teams] if teams else None


class NewToken(BaseModel):
    label: str | None = None


@router.get("/users")
def users(request: Request, who: Admin) -> list[dict[str, Any]]:
    with Session(request.app.state.engine) as session:
        return [user_doc(u) for u in list_users(session)]


@router.post("/users", status_code=201)
def users_add(request: Request, body: NewUser, who: Admin) -> dict[str, Any]:
    """Create a user (without a password it can only use API tokens)."""
    with session_scope(request.app.state.engine) as session:
        user = add_user(
            session,
            body.name,
            body.role,
            body.password,
            teams=body.teams,
            known_teams=_known_teams(request),
            actor=who.name,
        )
        return user_doc(user)


@router.put("/users/{name}/teams")
def users_teams(request: Request, name: str, body: Teams, who: Admin) -> dict[str, Any]:
    """Set the teams of a user (agents work only their teams' cases when teams are configured)."""
    with session_scope(request.app.state.engine) as session:
        return user_doc(
            set_teams(session, name, body.teams, known_teams=_known_teams(request), actor=who.name)
        )


@router.post("/users/{name}/disable")
def users_disable(request: Request, name: str, who: Admin) -> dict[str, Any]:
    """Disable a user: their sessions end and their tokens stop working."""
    with session_scope(request.app.state.engine) as session:
        return user_doc(disable_user(session, name, actor=who.name))


@router.post("/users/{name}/tokens", status_code=201)
def tokens_create(request: Request, name: str, who: Admin, body: NewToken | None = None) -> dict[str, Any]:
    """A new API token for the user; the token is in this answer only."""
    with session_scope(request.app.state.engine) as session:
        row, token = create_token(session, name, label=body.label if body else None, actor=who.name)
        return {"token": token, "prefix": row.prefix, "user": name, "created_at": iso(row.created_at)}


@router.get("/audit")
def audit_log(
    request: Request, who: Admin, limit: int = 200, case_id: str | None = None
) -> list[dict[str, Any]]:
    """The newest audit records (who did what, when), optionally of one case."""
    with Session(request.app.state.engine) as session:
        query = select(AuditRow)
        if case_id:
            query = query.where(AuditRow.case_id == parse_case_id(case_id))
        rows = session.exec(query.order_by(col(AuditRow.id).desc()).limit(min(limit, 1000))).all()
    return [
        {
            "at": iso(r.at),
            "actor": r.actor,
            "action": r.action,
            "case_id": public_id(r.case_id) if r.case_id else None,
            "detail": r.detail or {},
        }
        for r in rows
    ]
