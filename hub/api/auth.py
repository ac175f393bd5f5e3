"""Authentication and authorisation for every HTTP route.

- :class:`AuthMiddleware` resolves who is calling — ``Authorization: Bearer
  hub_...`` (API tokens) or the ``hub_session`` cookie (web UI) — and answers
  **401** to anything unauthenticated, except ``/login``, ``/healthz`` and
  ``/webhooks/*`` (the providers sign those). It runs before routing, so unknown
  paths, ``/docs``, ``/openapi.json`` and static files are covered too.
- Route dependencies :data:`need_agent`, :data:`need_ops`, :data:`need_admin`
  check the role (**403** when too low; roles are ordered agent < ops < admin)
  and, for a state-changing request made with the session cookie, the CSRF
  token (header ``X-CSRF-Token`` or form field ``csrf_token``). Bearer requests
  carry no ambient credentials and need no CSRF token.
- Session cookies are HttpOnly, SameSite=Lax, and Secure when
  ``HUB_COOKIE_SECURE`` is ``true`` (``auto``, the default: when the request
  came over https).
- Login rate limit: the middleware counts failed ``POST /login`` answers (401)
  per user name and per client address; after 5 within 15 minutes further
  attempts get **429** with ``Retry-After`` until the window has passed
  (:class:`hub.users.LoginLimiter`, in-process: each worker process counts on
  its own). The client address is the socket peer's, so behind a reverse proxy
  every client shares the proxy's address count.
- Teams: :func:`team_scope` is what an agent may see when ``teams:`` are
  configured (ops and admin see everything).
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub.config import HubConfig, TeamSettings
from hub.db import session_scope
from hub.lifecycle import ActionRefused, CaseForbidden, CaseNotFound, InvalidAction
from hub.stats import StatsError
from hub.users import LoginLimiter, Role, UserError, resolve_session, resolve_token

__all__ = [
    "LANG_COOKIE",
    "SESSION_COOKIE",
    "AuthMiddleware",
    "Principal",
    "cookie_secure",
    "install",
    "is_public",
    "need_admin",
    "need_agent",
    "need_ops",
    "principal",
    "team_scope",
]

log = logging.getLogger(__name__)

SESSION_COOKIE = "hub_session"
LANG_COOKIE = "hub_lang"
PUBLIC_PATHS = frozenset({"/login", "/healthz"})
PUBLIC_PREFIXES = ("/webhooks/",)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOGIN_PATH = "/login"
#: a login form larger than this is refused before it reaches the login route
MAX_LOGIN_BODY = 64 * 1024


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user (a plain copy, safe outside the DB session) and how they signed in."""

    user_id: int
    name: str
    role: Role
    via: str  # "session" | "token"
    csrf: str | None = None
    session_token: str | None = None
    teams: tuple[str, ...] = ()


def team_scope(config: HubConfig, who: Principal) -> list[TeamSettings] | None:
    """The teams whose cases ``who`` may see and act on; None: every case.

    None when no team is configured or the caller is ops or admin; otherwise the configured
    teams the agent belongs to (an agent in no team sees no case).
    """
    if not config.teams or who.role.allows(Role.ops):
        return None
    return [t for t in config.teams if t.name in who.teams]


def _resolve(engine: Engine, bearer: str | None, cookie: str | None) -> Principal | None:
    with session_scope(engine) as session:
        if bearer is not None:
            user = resolve_token(session, bearer)
            if user is None or user.id is None:
                return None
            return Principal(user.id, user.name, Role(user.role), "token", teams=tuple(user.teams or ()))
        if cookie:
            found = resolve_session(session, cookie)
            if found is None or found.user.id is None:
                return None
            return Principal(
                found.user.id,
                found.user.name,
                Role(found.user.role),
                "session",
                found.row.csrf_token,
                cookie,
                teams=tuple(found.user.teams or ()),
            )
    return None


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie")
    if not raw:
        return None
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


Unauthenticated = Callable[[Scope], Awaitable[Response]]


class AuthMiddleware:
    """Resolve the caller for every HTTP request; 401 for the unauthenticated outside the public paths."""

    def __init__(
        self,
        app: ASGIApp,
        engine: Engine,
        unauthenticated: Unauthenticated | None = None,
        limiter: LoginLimiter | None = None,
    ) -> None:
        self.app = app
        self.engine = engine
        self.unauthenticated = unauthenticated
        self.limiter = limiter or LoginLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        auth = _header(scope, b"authorization")
        bearer = None
        if auth is not None:
            kind, _, value = auth.partition(" ")
            bearer = value.strip() if kind.lower() == "bearer" else ""
        cookie = _cookie(scope, SESSION_COOKIE)
        who = None
        if bearer is not None or cookie:
            who = await run_in_threadpool(_resolve, self.engine, bearer, cookie)
        scope.setdefault("state", {})["principal"] = who
        if who is None and not is_public(scope["path"]):
            response = await self._reject(scope)
            await response(scope, receive, send)
            return
        if scope["path"] == LOGIN_PATH and scope["method"] == "POST":
            await self._login(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a login attempt on unless its user name or address is blocked; count its failure."""
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > MAX_LOGIN_BODY:
                await JSONResponse({"detail": "request too large"}, status_code=413)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        name = ""
        if (_header(scope, b"content-type") or "").startswith("application/x-www-form-urlencoded"):
            values = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            name = (values.get("name") or [""])[0]
        client = scope.get("client")
        keys = LoginLimiter.keys(name, client[0] if client else None)
        wait = self.limiter.retry_after(keys)
        if wait:
            log.warning("login refused: too many failed attempts (retry after %ss)", wait)
            response = JSONResponse(
                {"detail": f"too many failed logins: try again in {wait} seconds"},
                status_code=429,
                headers={"Retry-After": str(wait)},
            )
            await response(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        status = 0

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, replay, watch)
        if status == 401:
            self.limiter.failed(keys)
        elif 200 <= status < 400 and name:
            self.limiter.succeeded(keys[0])

    async def _reject(self, scope: Scope) -> Response:
        accept = _header(scope, b"accept") or ""
        path = scope["path"]
        wants_html = "text/html" in accept and not path.startswith("/api/") and scope["method"] == "GET"
        if wants_html and self.unauthenticated is not None:
            return await self.unauthenticated(scope)
        return JSONResponse(
            {"detail": "authentication required"}, status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )


def principal(request: Request) -> Principal | None:
    return getattr(request.state, "principal", None)


async def _csrf_ok(request: Request, who: Principal) -> bool:
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    return bool(sent and who.csrf and hmac.compare_digest(sent, who.csrf))


def _require(role: Role) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        who = principal(request)
        if who is None:
            raise HTTPException(401, "authentication required", headers={"WWW-Authenticate": "Bearer"})
        if not who.role.allows(role):
            raise HTTPException(403, f"this needs the {role.value} role (you are {who.role.value})")
        if request.method not in SAFE_METHODS and who.via == "session" and not await _csrf_ok(request, who):
            raise HTTPException(403, "missing or wrong CSRF token")
        return who

    dependency.__name__ = f"need_{role.value}"
    dependency.role = role  # type: ignore[attr-defined]  # read by the route-walking test
    return dependency


need_agent = _require(Role.agent)
need_ops = _require(Role.ops)
need_admin = _require(Role.admin)


def cookie_secure(request: Request) -> bool:
    setting = os.environ.get("HUB_COOKIE_SECURE", "auto").strip().lower()
    if setting in ("1", "true", "yes", "on"):
        return True
    if setting in ("0", "false", "no", "off"):
        return False
    return request.url.scheme == "https"


def _error(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handler(request: Request, exc: Exception) -> Response:
        return Response(
            json.dumps({"detail": str(exc)}, ensure_ascii=False),
            status_code=status,
            media_type="application/json",
        )

    return handler


def install(app: FastAPI, engine: Engine, unauthenticated: Unauthenticated | None = None) -> None:
    """Add the authentication wall and the error mapping of the queue's services to ``app``.

    The login rate limiter is ``app.state.login_limiter``.
    """
    limiter = LoginLimiter()
    app.state.login_limiter = limiter
    app.add_middleware(AuthMiddleware, engine=engine, unauthenticated=unauthenticated, limiter=limiter)
    errors: dict[type[Exception], int] = {
        CaseNotFound: 404,
        CaseForbidden: 403,
        ActionRefused: 409,
        InvalidAction: 422,
        UserError: 422,
        StatsError: 422,
    }
    for exc, status in errors.items():
        app.add_exception_handler(exc, _error(status))
