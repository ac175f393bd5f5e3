"""Users, roles, API tokens, web sessions and the audit log.

- Passwords are stored as argon2id hashes (argon2-cffi); a wrong name and a wrong
  password take the same time and give the same answer.
- API tokens (``Authorization: Bearer hub_...``) and session cookies are random
  strings shown once; the store keeps only their SHA-256.
- Roles are ordered: ``agent`` < ``ops`` < ``admin``; a higher role may do
  everything a lower one may.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, col, delete, select

from hub.errors import HubError
from hub.models import utc
from hub.tables import ApiTokenRow, AuditRow, UserRow, WebSessionRow

__all__ = [
    "MIN_PASSWORD",
    "SESSION_TTL",
    "Role",
    "UserError",
    "add_user",
    "audit",
    "authenticate_password",
    "close_session",
    "create_token",
    "disable_user",
    "get_user",
    "hash_secret",
    "list_users",
    "open_session",
    "resolve_session",
    "resolve_token",
    "set_password",
]

MIN_PASSWORD = 8
#: a web session ends this long after it was last used
SESSION_TTL = timedelta(hours=12)
TOKEN_PREFIX = "hub_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
_hasher = PasswordHasher()
# verified against when the user does not exist, so both failures cost the same
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


class Role(StrEnum):
    agent = "agent"
    ops = "ops"
    admin = "admin"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


_RANK = {Role.agent: 1, Role.ops: 2, Role.admin: 3}


class UserError(HubError):
    """A user or token operation that cannot be done (unknown user, bad name, short password ...)."""


def hash_secret(value: str) -> str:
    """SHA-256 hex of a token or session id: what the store keeps."""
    return hashlib.sha256(value.encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return utc(now) if now else datetime.now(UTC)


def audit(
    session: Session,
    actor: str,
    action: str,
    *,
    case_id: int | None = None,
    at: datetime | None = None,
    **detail: Any,
) -> None:
    """Append one audit record (who, when, what)."""
    session.add(AuditRow(at=_now(at), actor=actor, action=action, case_id=case_id, detail=detail or None))


# --------------------------------------------------------------------------- users


def get_user(session: Session, name: str) -> UserRow | None:
    return session.exec(select(UserRow).where(UserRow.name == name)).first()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        msg = f"the password must have at least {MIN_PASSWORD} characters"
        raise UserError(msg)


def add_user(
    session: Session,
    name: str,
    role: Role | str,
    password: str | None,
    *,
    actor: str = "cli",
    now: datetime | None = None,
) -> UserRow:
    """Create a user; ``password`` None makes a user that signs in with API tokens only."""
    if not _NAME.match(name):
        msg = f"{name!r} is not a valid user name (letters, digits and _ . @ -, at most 64)"
        raise UserError(msg)
    try:
        role = Role(role)
    except ValueError:
        msg = f"role must be one of {', '.join(r.value for r in Role)}, not {role!r}"
        raise UserError(msg) from None
    if get_user(session, name) is not None:
        msg = f"user {name!r} already exists"
        raise UserError(msg)
    if password is not None:
        _check_password(password)
    user = UserRow(
        name=name,
        role=role.value,
        password_hash=_hasher.hash(password) if password is not None else None,
        created_at=_now(now),
    )
    session.add(user)
    session.flush()
    audit(session, actor, "user.add", at=now, user=name, role=role.value)
    return user


def set_password(session: Session, name: str, password: str, *, actor: str = "cli") -> UserRow:
    user = _require(session, name)
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    session.add(user)
    session.exec(delete(WebSessionRow).where(col(WebSessionRow.user_id) == user.id))
    audit(session, actor, "user.password", user=name)
    return user


def list_users(session: Session) -> list[UserRow]:
    return list(session.exec(select(UserRow).order_by(col(UserRow.name))).all())


def _require(session: Session, name: str) -> UserRow:
    user = get_user(session, name)
    if user is None:
        msg = f"no user {name!r}"
        raise UserError(msg)
    return user


def disable_user(session: Session, name: str, *, actor: str = "cli", now: datetime | None = None) -> UserRow:
    """Disable a user: sessions end at once, tokens stop working (they stay listed, revoked)."""
    user = _require(session, name)
    at = _now(now)
    user.disabled = True
    session.add(user)
    session.exec(delete(WebSessionRow).where(col(WebSessionRow.user_id) == user.id))
    for token in session.exec(
        select(ApiTokenRow).where(ApiTokenRow.user_id == user.id, col(ApiTokenRow.revoked_at).is_(None))
    ).all():
        token.revoked_at = at
        session.add(token)
    audit(session, actor, "user.disable", at=at, user=name)
    return user


def authenticate_password(
    session: Session, name: str, password: str, *, now: datetime | None = None
) -> UserRow | None:
    """The enabled user with this name and password, or None (same cost either way)."""
    user = get_user(session, name)
    stored = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
        ok = user is not None and user.password_hash is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or user.disabled:
        return None
    if _hasher.check_needs_rehash(stored):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = _now(now)
    session.add(user)
    return user


# --------------------------------------------------------------------------- API tokens


def create_token(
    session: Session, name: str, *, label: str | None = None, actor: str = "cli", now: datetime | None = None
) -> tuple[ApiTokenRow, str]:
    """A new API token for user ``name``; the token itself is returned once and never stored."""
    user = _require(session, name)
    if user.disabled:
        msg = f"user {name!r} is disabled"
        raise UserError(msg)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    assert user.id is not None
    row = ApiTokenRow(
        user_id=user.id,
        token_hash=hash_secret(token),
        prefix=token[:12],
        label=label,
        created_at=_now(now),
    )
    session.add(row)
    session.flush()
    audit(session, actor, "token.create", at=now, user=name, token_id=row.id, prefix=row.prefix)
    return row, token


def resolve_token(session: Session, token: str, *, now: datetime | None = None) -> UserRow | None:
    """The enabled user a bearer token belongs to, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.exec(select(ApiTokenRow).where(ApiTokenRow.token_hash == hash_secret(token))).first()
    if row is None or row.revoked_at is not None:
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or user.disabled:
        return None
    at = _now(now)
    if row.last_used_at is None or at - utc(row.last_used_at) > timedelta(minutes=5):
        row.last_used_at = at  # coarse, so a busy integration does not write on every call
        session.add(row)
    return user


# --------------------------------------------------------------------------- web sessions


@dataclass(frozen=True)
class WebSession:
    user: UserRow
    row: WebSessionRow


def open_session(
    session: Session, user: UserRow, *, now: datetime | None = None, ttl: timedelta = SESSION_TTL
) -> tuple[str, str]:
    """Start a web session for ``user``; returns (cookie value, CSRF token)."""
    at = _now(now)
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(
        WebSessionRow(
            user_id=user.id,
            token_hash=hash_secret(cookie),
            csrf_token=csrf,
            created_at=at,
            expires_at=at + ttl,
            last_seen_at=at,
        )
    )
    # sessions of this user that have run out are removed as new ones start
    session.exec(
        delete(WebSessionRow).where(col(WebSessionRow.user_id) == user.id, col(WebSessionRow.expires_at) < at)
    )
    return cookie, csrf


def resolve_session(
    session: Session, cookie: str, *, now: datetime | None = None, ttl: timedelta = SESSION_TTL
) -> WebSession | None:
    """The live session (and its enabled user) for a cookie value, sliding its expiry; or None."""
    row = session.exec(select(WebSessionRow).where(WebSessionRow.token_hash == hash_secret(cookie))).first()
    at = _now(now)
    if row is None or utc(row.expires_at) <= at:
        return None
    user = session.get(UserRow, row.user_id)
    if user is None or user.disabled:
        return None
    if at - utc(row.last_seen_at) > timedelta(minutes=1):
        row.last_seen_at, row.expires_at = at, at + ttl
        session.add(row)
    return WebSession(user, row)


def close_session(session: Session, cookie: str) -> None:
    session.exec(delete(WebSessionRow).where(col(WebSessionRow.token_hash) == hash_secret(cookie)))
