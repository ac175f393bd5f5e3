"""Users, roles, API tokens, web sessions and the audit log.

- Passwords are stored as argon2id hashes (argon2-cffi); a wrong name and a wrong
  password take the same time and give the same answer.
- API tokens (``Authorization: Bearer hub_...``) and session cookies are random
  strings shown once; the store keeps only their SHA-256.
- Roles are ordered: ``agent`` < ``ops`` < ``admin``; a higher role may do
  everything a lower one may.
- A user may belong to teams (``teams:`` in the configuration); when teams are
  configured an agent works only the cases of their own teams.
- :class:`LoginLimiter`: after 5 failed logins for one user name or one client
  address within 15 minutes, further attempts are refused until the window has
  passed. It is held in the process (each web worker counts on its own and a
  restart forgets), which bounds password guessing without a shared store.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
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
    "LOGIN_MAX_FAILURES",
    "LOGIN_WINDOW",
    "MIN_PASSWORD",
    "SESSION_TTL",
    "LoginLimiter",
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
    "set_teams",
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


def _check_teams(teams: Iterable[str], known: Iterable[str] | None) -> list[str]:
    """The team names, deduplicated in order; each must be one of ``known`` when that is given."""
    out: list[str] = []
    for team in teams:
        team = team.strip()
        if not team:
            continue
        if len(team) > 64:
            msg = f"team name {team[:64]!r}... is too long (at most 64 characters)"
            raise UserError(msg)
        if team not in out:
            out.append(team)
    allowed = list(known) if known is not None else None
    if allowed is not None:
        unknown = [t for t in out if t not in allowed]
        if unknown:
            configured = ", ".join(allowed) or "none"
            msg = f"unknown team(s) {', '.join(unknown)}; configured teams: {configured}"
            raise UserError(msg)
    return out


def add_user(
    session: Session,
    name: str,
    role: Role | str,
    password: str | None,
    *,
    teams: Iterable[str] = (),
    known_teams: Iterable[str] | None = None,
    actor: str = "cli",
    now: datetime | None = None,
) -> UserRow:
    """Create a user; ``password`` None makes a user that signs in with API tokens only.

    ``teams`` are checked against ``known_teams`` (the configured team names) when it is given.
    """
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
    team_list = _check_teams(teams, known_teams)
    user = UserRow(
        name=name,
        role=role.value,
        password_hash=_hasher.hash(password) if password is not None else None,
        created_at=_now(now),
        teams=team_list or None,
    )
    session.add(user)
    session.flush()
    detail: dict[str, Any] = {"user": name, "role": role.value}
    if team_list:
        detail["teams"] = team_list
    audit(session, actor, "user.add", at=now, **detail)
    return user


def set_teams(
    session: Session,
    name: str,
    teams: Iterable[str],
    *,
    known_teams: Iterable[str] | None = None,
    actor: str = "cli",
) -> UserRow:
    """Replace the teams of user ``name`` (an empty list: no team)."""
    user = _require(session, name)
    team_list = _check_teams(teams, known_teams)
    user.teams = team_list or None
    session.add(user)
    audit(session, actor, "user.teams", user=name, teams=team_list)
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


# --------------------------------------------------------------------------- login rate limit

#: failed logins allowed per user name and per client address within :data:`LOGIN_WINDOW`
LOGIN_MAX_FAILURES = 5
LOGIN_WINDOW = timedelta(minutes=15)


class LoginLimiter:
    """Failed logins per key (``name:...``, ``addr:...``) in a sliding window, in this process.

    :meth:`retry_after` answers how many seconds a key must still wait (0: it may try).
    Thread-safe; keys whose failures have all aged out are dropped as they are touched.
    """

    def __init__(
        self,
        max_failures: int = LOGIN_MAX_FAILURES,
        window: timedelta = LOGIN_WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window.total_seconds()
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(name: str | None, address: str | None) -> list[str]:
        out = []
        if name:
            out.append("name:" + name.strip().lower()[:128])
        if address:
            out.append("addr:" + address)
        return out

    def _trim(self, key: str, now: float) -> deque[float] | None:
        found = self._failures.get(key)
        if found is None:
            return None
        while found and found[0] <= now - self.window:
            found.popleft()
        if not found:
            del self._failures[key]
            return None
        return found

    def retry_after(self, keys: Iterable[str]) -> int:
        """Seconds until every key may try again (0 when none is blocked)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                found = self._trim(key, now)
                if found is not None and len(found) >= self.max_failures:
                    # blocked until enough failures age out to fall below the limit
                    oldest_that_counts = found[len(found) - self.max_failures]
                    wait = max(wait, oldest_that_counts + self.window - now)
        return max(1, int(wait + 0.999)) if wait > 0 else 0

    def failed(self, keys: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                found = self._trim(key, now)
                if found is None:
                    found = self._failures[key] = deque()
                found.append(now)
                while len(found) > self.max_failures:
                    found.popleft()

    def succeeded(self, name_key: str) -> None:
        """A good password clears the user name's failures (the address keeps its count)."""
        with self._lock:
            self._failures.pop(name_key, None)

    def clear(self) -> None:
        with self._lock:
            self._failures.clear()
