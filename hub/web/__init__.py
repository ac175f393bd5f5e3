"""The web UI for support teams: server-rendered Jinja2 pages and a little vendored JavaScript.

Pages: ``/login``, ``/`` (the queue), ``/cases/{id}`` (timeline and actions),
``/stats`` (charts), ``/connectors`` (ops). Forms post back with the session's
CSRF token and redirect (303) on success. Every page is rendered with
autoescaping; the only HTML that is not escaped is an e-mail's HTML body after
nh3 cleaned it (:mod:`hub.web.sanitise`). Pages carry a Content-Security-Policy
that allows scripts from this origin only (``/static/app.js``), never inline.
Language: ``?lang=zh-CN|en`` (remembered in a cookie), else the browser's.
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from hub.api.auth import (
    LANG_COOKIE,
    SESSION_COOKIE,
    Principal,
    cookie_secure,
    need_agent,
    need_ops,
    principal,
    team_scope,
)
from hub.api.cases import build_filter, lifecycle_for, resolution_of
from hub.api.ops import connector_rows
from hub.api.stats import load_stats
from hub.cases import public_id
from hub.db import session_scope
from hub.export import iso
from hub.lifecycle import ORDER, CaseForbidden, CaseNotFound, InvalidAction, LifecycleError
from hub.models import Category, Channel, Severity
from hub.queue import case_detail, ensure_case_visible, list_cases
from hub.stats import Period, StatsError
from hub.tables import MessageRow, RawItemRow, UserRow
from hub.users import audit, authenticate_password, close_session, open_session
from hub.web.charts import PALETTE, hbars, stacked
from hub.web.i18n import LANGUAGES, choose_language, translator
from hub.web.sanitise import email_html

__all__ = ["install", "login_required_page", "router"]

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
LOGIN_CSRF_COOKIE = "hub_login_csrf"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=True, trim_blocks=True, lstrip_blocks=True
)
router = APIRouter(include_in_schema=False)
ACTIONS = ("status", "reopen", "assign", "note", "correct", "merge", "split")


def _language(request: Request) -> str:
    return choose_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def _url(path: str, params: dict[str, Any]) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "", False)}
    return path + ("?" + urlencode(clean) if clean else "")


def page(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a page in the caller's language with the security headers."""
    lang = _language(request)
    who = principal(request)
    params = dict(request.query_params)
    switch = {code: _url(request.url.path, {**params, "lang": code}) for code in LANGUAGES}
    html = _env.get_template(template).render(
        t=translator(lang),
        lang=lang,
        languages=LANGUAGES,
        switch=switch,
        who=who,
        csrf=who.csrf if who else None,
        path=request.url.path,
        statuses=ORDER,
        categories=[c.value for c in Category],
        severities=[s.value for s in Severity],
        channels=[c.value for c in Channel],
        public_id=public_id,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.query_params.get("lang") in LANGUAGES:
        response.set_cookie(
            LANG_COOKIE,
            lang,
            max_age=365 * 86400,
            samesite="lax",
            httponly=True,
            secure=cookie_secure(request),
        )
    return response


def _safe_next(value: str | None) -> str:
    """Only a local path (no scheme, no host, no ``//``) is followed after login."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _login_page(
    request: Request, *, status: int = 200, error: str | None = None, nxt: str = "/"
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(request, "login.html", status=status, login_csrf=token, error=error, next=_safe_next(nxt))
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
        path="/login",
        max_age=3600,
    )
    return response


async def login_required_page(scope: Scope) -> Response:
    """What a browser gets for a page it may not see yet: 401 with the login form."""
    request = Request(scope)
    nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return _login_page(request, status=401, nxt=nxt)


# --------------------------------------------------------------------------- login


@router.get("/login")
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _login_page(request, nxt=next)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    name, password = str(form.get("name") or ""), str(form.get("password") or "")
    nxt = _safe_next(str(form.get("next") or "/"))
    sent, expected = str(form.get("csrf_token") or ""), request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not expected or not secrets.compare_digest(sent, expected):
        return _login_page(request, status=403, error="login.expired", nxt=nxt)
    engine = request.app.state.engine

    def check() -> str | None:
        with session_scope(engine) as session:
            user = authenticate_password(session, name, password)
            if user is None:
                audit(session, name[:128] or "?", "login.failed")
                return None
            cookie, _csrf = open_session(session, user)
            audit(session, user.name, "login")
            return cookie

    cookie = await run_in_threadpool(check)
    if cookie is None:
        return _login_page(request, status=401, error="login.failed", nxt=nxt)
    response = RedirectResponse(nxt, status_code=303)
    response.set_cookie(
        SESSION_COOKIE, cookie, httponly=True, samesite="lax", secure=cookie_secure(request), path="/"
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, who: Principal = Depends(need_agent)) -> Response:
    if who.session_token:
        with session_scope(request.app.state.engine) as session:
            close_session(session, who.session_token)
            audit(session, who.name, "logout")
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --------------------------------------------------------------------------- queue


def _users(session: Session) -> list[str]:
    return list(
        session.exec(
            select(UserRow.name).where(col(UserRow.disabled).is_(False)).order_by(col(UserRow.name))
        ).all()
    )


@router.get("/")
def queue(request: Request, who: Principal = Depends(need_agent)) -> HTMLResponse:
    q = request.query_params
    params = {k: q.get(k) or None for k in ("status", "category", "severity", "channel", "assignee", "q")}
    if "status" not in q:
        params["status"] = "open"
    overdue = q.get("overdue") in ("1", "on", "true")
    params.update(created_from=q.get("created_from") or None, created_to=q.get("created_to") or None)
    try:
        page_no = max(1, int(q.get("page") or 1))
    except ValueError:
        page_no = 1
    error = None
    with Session(request.app.state.engine) as session:
        users = _users(session)
        try:
            f = build_filter(**params, overdue=True if overdue else None, me=who.name)
            f.teams = team_scope(request.app.state.config, who)
            result = list_cases(session, f, page=page_no, per_page=50)
        except LifecycleError as exc:
            error, result = str(exc), None
    keep = {k: v for k, v in {**params, "overdue": "1" if overdue else None}.items() if v}
    return page(
        request,
        "queue.html",
        status=422 if error else 200,
        result=result,
        error=error,
        filters=params,
        overdue=overdue,
        users=users,
        page_url=lambda n: _url("/", {**keep, "page": n}),
        reset_url="/",
    )


# --------------------------------------------------------------------------- case page


def _case_context(session: Session, case_id: str) -> dict[str, Any]:
    detail = case_detail(session, case_id)
    html: dict[int, str] = {}
    email_ids = [m["id"] for m in detail["messages"] if m["channel"] == Channel.email.value]
    if email_ids:
        for mid, payload in session.exec(
            select(MessageRow.id, RawItemRow.payload)
            .join(RawItemRow, col(RawItemRow.id) == MessageRow.raw_item_id)
            .where(col(MessageRow.id).in_(email_ids))
        ).all():
            cleaned = email_html(payload)
            if cleaned and mid is not None:
                html[mid] = cleaned
    return {"case": detail, "html": html, "users": _users(session)}


@router.get("/cases/{case_id}")
def case_page(request: Request, case_id: str, who: Principal = Depends(need_agent)) -> HTMLResponse:
    with Session(request.app.state.engine) as session:
        try:
            ensure_case_visible(session, case_id, team_scope(request.app.state.config, who))
            context = _case_context(session, case_id)
        except CaseNotFound as exc:
            raise StarletteHTTPException(404, str(exc)) from None
        except CaseForbidden as exc:
            raise StarletteHTTPException(403, str(exc)) from None
    return page(request, "case.html", done=request.query_params.get("done"), error=None, **context)


def _do(request: Request, who: Principal, case_id: str, action: str, form: FormData) -> int:
    def text(name: str) -> str | None:
        value = form.get(name)
        return str(value) if value is not None else None

    with session_scope(request.app.state.engine) as session:
        life = lifecycle_for(request, who, session)
        case = life.get(case_id)
        assert case.id is not None
        if action == "status":
            resolution = resolution_of(
                text("measures") or None, text("result") or None, text("customer_feedback")
            )
            life.change_status(case, text("status") or "", comment=text("comment"), resolution=resolution)
        elif action == "reopen":
            life.reopen(case, reason=text("reason") or "", to=text("status") or "investigating")
        elif action == "assign":
            life.assign(case, text("assignee") or None)
        elif action == "note":
            life.add_note(case, text("text") or "")
        elif action == "correct":
            life.correct(
                case,
                category=text("category") or None,
                severity=text("severity") or None,
                reason=text("reason"),
            )
        elif action == "merge":
            try:
                other = life.get(text("other") or "")
            except CaseNotFound as exc:
                raise InvalidAction(str(exc)) from None
            life.merge(case, other)
        elif action == "split":
            ids = [int(v) for v in form.getlist("message") if isinstance(v, str) and v.isdigit()]
            new = life.split(case, ids)
            assert new.id is not None
            return new.id
        return case.id


@router.post("/cases/{case_id}/{action}")
async def case_action(
    request: Request, case_id: str, action: str, who: Principal = Depends(need_agent)
) -> Response:
    """One form of the case page; back to the case (or the new case after a split) on success."""
    if action not in ACTIONS:
        raise StarletteHTTPException(404, f"no action {action!r}")
    form = await request.form()
    try:
        target = await run_in_threadpool(_do, request, who, case_id, action, form)
    except LifecycleError as exc:
        status = {"CaseNotFound": 404, "ActionRefused": 409}.get(type(exc).__name__, 422)
        if status == 404:
            raise StarletteHTTPException(404, str(exc)) from None

        def context() -> dict[str, Any]:
            with Session(request.app.state.engine) as session:
                return _case_context(session, case_id)

        return page(
            request, "case.html", status=status, error=str(exc), done=None, **await run_in_threadpool(context)
        )
    return RedirectResponse(f"/cases/{public_id(target)}?done={action}", status_code=303)


# --------------------------------------------------------------------------- statistics and connectors


@router.get("/stats")
def stats_page(request: Request, who: Principal = Depends(need_agent)) -> HTMLResponse:
    q = request.query_params
    period = q.get("period") or Period.month.value
    if period not in {p.value for p in Period}:
        period = Period.month.value
    start, end, tz = q.get("from") or None, q.get("to") or None, q.get("tz") or "UTC"
    t = translator(_language(request))
    error = None
    try:
        doc = load_stats(request, period, start, end, tz)
    except StatsError as exc:
        error, doc = str(exc), None
    charts: dict[str, Any] = {}
    if doc:
        cats = [c.value for c in Category]
        totals = doc["totals"]
        charts = {
            "per_period": stacked(doc["buckets"], "by_category", cats, {c: t(f"category.{c}") for c in cats}),
            "category": hbars(totals["by_category"], {c: t(f"category.{c}") for c in cats}),
            "channel": hbars(totals["by_channel"], {c.value: t(f"channel.{c.value}") for c in Channel}),
            "severity": hbars(totals["by_severity"], {s.value: t(f"severity.{s.value}") for s in Severity}),
        }
    params = {"period": period, "from": start, "to": end, "tz": tz}
    return page(
        request,
        "stats.html",
        status=422 if error else 200,
        stats=doc,
        charts=charts,
        error=error,
        params=params,
        periods=[p.value for p in Period],
        palette=PALETTE,
        csv_url=_url("/api/stats", {**params, "format": "csv"}),
        json_url=_url("/api/stats", params),
    )


@router.get("/connectors")
def connectors_page(request: Request, who: Principal = Depends(need_ops)) -> HTMLResponse:
    return page(request, "connectors.html", rows=connector_rows(request), iso=iso)


_STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(js|css|svg)$")


@router.get("/static/{name}")
def static(name: str, who: Principal = Depends(need_agent)) -> Response:
    path = STATIC / name
    if not _STATIC_NAME.match(name) or not path.is_file():
        raise StarletteHTTPException(404, "not found")
    return FileResponse(
        path, headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    )


# --------------------------------------------------------------------------- wiring


async def _http_error(request: Request, exc: Exception) -> Response:
    """HTML error pages for browsers on UI paths; the usual JSON everywhere else."""
    assert isinstance(exc, StarletteHTTPException)
    wants_html = "text/html" in request.headers.get("accept", "") and not request.url.path.startswith("/api/")
    if wants_html and exc.status_code in (403, 404):
        key = "error.forbidden" if exc.status_code == 403 else "error.not_found"
        return page(request, "error.html", status=exc.status_code, message=key, detail=str(exc.detail))
    return await http_exception_handler(request, exc)


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.add_exception_handler(StarletteHTTPException, _http_error)
