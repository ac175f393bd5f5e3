"""Authentication and authorisation: every route of the app, walked; sessions, CSRF, tokens, cookies."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from starlette.routing import Route

from hub.api.auth import is_public
from hub.db import session_scope
from hub.tables import AuditRow, WebSessionRow
from hub.users import Role, disable_user
from tests.api.conftest import Hub

PUBLIC = {"/login", "/healthz"}
#: routes without a role dependency of their own: behind the authentication wall, open to any role
ANY_ROLE = {"/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc", "/metrics"}
SAMPLE = {
    "case_id": "C-000001",
    "customer_id": "1",
    "name": "bert",
    "outbox_id": "999",
    "action": "note",
    "instance": "nothing",
}


def flat_routes(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, Route]]:
    """(full path, route) of every route, looking inside included routers (newer FastAPI keeps them nested)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from flat_routes(inner.routes, prefix + getattr(context, "prefix", ""))
        elif isinstance(route, Route):
            yield prefix + route.path, route


def _routes(hub: Hub) -> list[tuple[str, str, Role | None]]:
    """(method, concrete path, role needed) of every route; role None for the public ones."""
    out: list[tuple[str, str, Role | None]] = []
    for full, route in flat_routes(hub.client.app.routes):  # type: ignore[attr-defined]
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: SAMPLE.get(m.group(1), "app.js"), full)
        role: Role | None = Role.agent  # routes without a role dependency (docs) sit behind the wall
        if isinstance(route, APIRoute):
            needs = [getattr(d.call, "role", None) for d in route.dependant.dependencies]
            needs = [r for r in needs if r is not None]
            assert len(needs) <= 1, full
            if needs:
                role = needs[0]
            elif not is_public(full) and full not in ANY_ROLE:
                pytest.fail(f"{full} has no role dependency: add need_agent/need_ops/need_admin")
        if is_public(full):
            role = None
        for method in sorted(route.methods or []):
            if method != "HEAD":
                out.append((method, path, role))
    return out


def test_every_route_needs_authentication(hub: Hub) -> None:
    routes = _routes(hub)
    assert len(routes) > 25
    forger = TestClient(hub.client.app, cookies={"hub_session": "forged-session-value"})
    public = {p for _, p, role in routes if role is None}
    assert public <= PUBLIC | {p for p in public if p.startswith("/webhooks/")}
    assert "/docs" in {p for _, p, _ in routes} and "/openapi.json" in {p for _, p, _ in routes}
    for method, path, role in routes:
        if role is None:
            continue
        for accept in ("application/json", "text/html"):
            r = hub.client.request(method, path, headers={"Accept": accept})
            assert r.status_code == 401, (method, path, accept, r.status_code)
            assert "水壶" not in r.text and "example.cn" not in r.text  # nothing of the cases leaks
        # a wrong token, a malformed header and a forged cookie are just as unauthenticated
        for headers in ({"Authorization": "Bearer hub_nope"}, {"Authorization": "Basic YTpi"}):
            assert hub.client.request(method, path, headers=headers).status_code == 401, (method, path)
        forged = forger.request(method, path)
        assert forged.status_code == 401, (method, path)
    # paths that match no route are behind the wall too
    assert hub.client.get("/nothing/here").status_code == 401
    assert hub.client.get("/static/../../etc/passwd").status_code == 401
    # the public ones answer without credentials
    assert hub.client.get("/healthz").status_code == 200
    assert hub.client.get("/login").status_code == 200


def test_roles_get_403_on_routes_above_them(hub: Hub) -> None:
    routes = _routes(hub)
    assert {role for _, _, role in routes} >= {Role.agent, Role.ops, Role.admin}
    for who, rank in (("alice", Role.agent), ("olga", Role.ops), ("ada", Role.admin)):
        for method, path, role in routes:
            if role is None:
                continue
            r = hub.client.request(method, path, headers=hub.team.auth(who))
            if not rank.allows(role):
                assert r.status_code == 403, (who, method, path, r.status_code, r.text)
            else:
                assert r.status_code not in (401, 403), (who, method, path, r.status_code, r.text)


def test_browsers_get_the_login_form_with_401_and_come_back_after_login(hub: Hub) -> None:
    r = hub.client.get("/cases/C-000001?lang=en", headers={"Accept": "text/html"})
    assert r.status_code == 401
    assert 'action="/login"' in r.text and 'name="next" value="/cases/C-000001?lang=en"' in r.text
    assert r.headers["content-security-policy"].startswith("default-src 'none'")


def test_login_sets_a_hardened_session_cookie(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = hub.login("alice")
    cookie = next(c for c in client.cookies.jar if c.name == "hub_session")
    assert cookie.has_nonstandard_attr("HttpOnly")
    assert not cookie.secure  # plain http, HUB_COOKIE_SECURE=auto
    form = client.get("/login")
    token = re.search(r'id="login-csrf" value="([^"]+)"', form.text)
    assert token
    monkeypatch.setenv("HUB_COOKIE_SECURE", "true")
    r = client.post(
        "/login",
        data={"name": "alice", "password": "correct-horse-battery", "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    header = r.headers["set-cookie"]
    assert "hub_session=" in header and "HttpOnly" in header and "Secure" in header
    assert "samesite=lax" in header.lower()


def test_login_failures_and_open_redirects(hub: Hub) -> None:
    client = hub.client
    page = client.get("/login")
    token = re.search(r'id="login-csrf" value="([^"]+)"', page.text)
    assert token
    bad = client.post(
        "/login", data={"name": "alice", "password": "wrong-password", "csrf_token": token.group(1)}
    )
    assert bad.status_code == 401 and "hub_session" not in client.cookies
    token = re.search(r'id="login-csrf" value="([^"]+)"', bad.text)  # each form has a fresh token
    assert token
    unknown = client.post(
        "/login", data={"name": "nobody", "password": "x" * 10, "csrf_token": token.group(1)}
    )
    assert unknown.status_code == 401
    no_csrf = client.post("/login", data={"name": "alice", "password": "correct-horse-battery"})
    assert no_csrf.status_code == 403 and "hub_session" not in client.cookies
    page = client.get("/login")
    token = re.search(r'id="login-csrf" value="([^"]+)"', page.text)
    assert token
    evil = client.post(
        "/login",
        data={
            "name": "alice",
            "password": "correct-horse-battery",
            "csrf_token": token.group(1),
            "next": "//evil.example/x",
        },
        follow_redirects=False,
    )
    assert evil.status_code == 303 and evil.headers["location"] == "/"
    with Session(hub.engine) as s:
        actions = [a.action for a in s.exec(select(AuditRow)).all()]
    assert actions.count("login.failed") == 2 and "login" in actions


def test_session_posts_need_the_csrf_token_bearer_posts_do_not(hub: Hub) -> None:
    client, csrf = hub.login("alice")
    body = {"text": "called the customer"}
    assert client.post("/api/cases/C-000001/notes", json=body).status_code == 403
    bad = client.post("/api/cases/C-000001/notes", json=body, headers={"X-CSRF-Token": "nope"})
    assert bad.status_code == 403
    ok = client.post("/api/cases/C-000001/notes", json=body, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200, ok.text
    form = client.post("/cases/C-000001/note", data={"text": "second"}, follow_redirects=False)
    assert form.status_code == 403
    form = client.post(
        "/cases/C-000001/note", data={"text": "second", "csrf_token": csrf}, follow_redirects=False
    )
    assert form.status_code == 303
    api = hub.client.post("/api/cases/C-000001/notes", json=body, headers=hub.team.auth("alice"))
    assert api.status_code == 200
    assert len(api.json()["notes"]) == 3


def test_logout_and_disabling_end_access(hub: Hub) -> None:
    client, csrf = hub.login("bert")
    assert client.get("/api/me").json() == {"name": "bert", "role": "agent", "via": "session"}
    assert client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.get("/api/me").status_code == 401
    client, _ = hub.login("bert")
    with session_scope(hub.engine) as s:
        disable_user(s, "bert", actor="test")
    assert client.get("/api/me").status_code == 401
    assert hub.client.get("/api/me", headers=hub.team.auth("bert")).status_code == 401


def test_expired_sessions_are_refused(hub: Hub) -> None:
    client, _ = hub.login("alice")
    with session_scope(hub.engine) as s:
        for row in s.exec(select(WebSessionRow)).all():
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            s.add(row)
    assert client.get("/api/me").status_code == 401


def test_admin_api_manages_users_and_tokens(hub: Hub) -> None:
    admin = hub.team.auth("ada")
    made = hub.client.post("/api/users", json={"name": "crm-sync", "role": "agent"}, headers=admin)
    assert made.status_code == 201, made.text
    dup = hub.client.post("/api/users", json={"name": "crm-sync", "role": "agent"}, headers=admin)
    assert dup.status_code == 422
    token = hub.client.post("/api/users/crm-sync/tokens", json={"label": "crm"}, headers=admin).json()[
        "token"
    ]
    me = hub.client.get("/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"name": "crm-sync", "role": "agent", "via": "token"}
    assert hub.client.post("/api/users/crm-sync/disable", headers=admin).status_code == 200
    assert hub.client.get("/api/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    names = {u["name"]: u for u in hub.client.get("/api/users", headers=admin).json()}
    assert names["crm-sync"]["disabled"] is True and "password_hash" not in names["crm-sync"]
    log = hub.client.get("/api/audit", headers=admin).json()
    assert {"user.add", "token.create", "user.disable"} <= {a["action"] for a in log}
