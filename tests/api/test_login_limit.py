"""The login rate limit: 5 failed logins per user name or client address in 15 minutes, then 429."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from hub.users import LOGIN_WINDOW, LoginLimiter
from tests.api.conftest import Hub
from tests.api.helpers import PASSWORD


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _attempt(client: TestClient, name: str, password: str) -> httpx.Response:
    form = client.get("/login")
    token = re.search(r'id="login-csrf" value="([^"]+)"', form.text)
    assert token, form.text
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": token.group(1)},
        follow_redirects=False,
    )


def test_five_failures_for_a_name_block_it_until_the_window_passes(hub: Hub) -> None:
    limiter: LoginLimiter = hub.client.app.state.login_limiter  # type: ignore[attr-defined]
    clock = Clock()
    limiter.clock = clock
    client = TestClient(hub.client.app)
    for _ in range(5):
        assert _attempt(client, "alice", "wrong-password").status_code == 401
    blocked = _attempt(client, "alice", PASSWORD)  # even the right password is refused now
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) == int(LOGIN_WINDOW.total_seconds())
    assert "hub_session" not in client.cookies
    clock.now += 600
    later = _attempt(client, "ALICE", PASSWORD)  # names are counted without case
    assert later.status_code == 429 and int(later.headers["Retry-After"]) == 300
    # bearer tokens are not affected
    assert hub.client.get("/api/me", headers=hub.team.auth("alice")).status_code == 200
    clock.now += 301
    assert _attempt(client, "alice", PASSWORD).status_code == 303


def test_failures_from_one_address_block_every_name(hub: Hub) -> None:
    limiter: LoginLimiter = hub.client.app.state.login_limiter  # type: ignore[attr-defined]
    clock = Clock()
    limiter.clock = clock
    client = TestClient(hub.client.app)
    for name in ("nobody1", "nobody2", "nobody3", "alice", "bert"):
        assert _attempt(client, name, "wrong-password").status_code == 401
    assert _attempt(client, "olga", PASSWORD).status_code == 429  # same client address
    clock.now += LOGIN_WINDOW.total_seconds() + 1
    assert _attempt(client, "olga", PASSWORD).status_code == 303


def test_a_good_login_clears_the_names_failures_and_expired_forms_do_not_count(hub: Hub) -> None:
    limiter: LoginLimiter = hub.client.app.state.login_limiter  # type: ignore[attr-defined]
    clock = Clock()
    limiter.clock = clock
    client = TestClient(hub.client.app)
    for _ in range(4):
        assert _attempt(client, "alice", "wrong-password").status_code == 401
    for _ in range(3):  # no login CSRF token: 403, not a failed password
        assert client.post("/login", data={"name": "alice", "password": "x" * 10}).status_code == 403
    assert _attempt(client, "alice", PASSWORD).status_code == 303
    assert limiter.retry_after(LoginLimiter.keys("alice", None)) == 0
    # the address keeps its 4 failures: one more blocks it
    assert _attempt(client, "bert", "wrong-password").status_code == 401
    assert _attempt(client, "bert", PASSWORD).status_code == 429


def test_limiter_unit() -> None:
    clock = Clock()
    limiter = LoginLimiter(max_failures=2, clock=clock)
    keys = LoginLimiter.keys("Mei", "10.0.0.1")
    assert keys == ["name:mei", "addr:10.0.0.1"]
    limiter.failed(keys)
    assert limiter.retry_after(keys) == 0
    clock.now += 60
    limiter.failed(keys)
    assert limiter.retry_after(keys) == int(LOGIN_WINDOW.total_seconds()) - 60  # the first one ages out
    assert limiter.retry_after(["addr:10.0.0.2"]) == 0
    clock.now += LOGIN_WINDOW.total_seconds() - 60
    assert limiter.retry_after(keys) == 0  # the first failure has aged out
