"""The shared HTTP client against a local simulator: classification, retries, Retry-After, secrets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hub.errors import AuthError, ConnectorError, PaginationLoop, RateLimited, TransientError
from hub.http import HttpClient, PageGuard, parse_wait, scrub
from tests.simulators.base import Recorded, Reply, Simulator


class Echo(Simulator):
    def handle(self, request: Recorded) -> Reply:
        return Reply.json({"path": request.path, "q": request.param("q")})


@pytest.fixture
def sim() -> Iterator[Echo]:
    with Echo() as s:
        yield s  # type: ignore[misc]


def client(sim: Simulator, sleeps: list[float], **kw: object) -> HttpClient:
    return HttpClient(sim.url, timeout=5, sleep=sleeps.append, secrets=["tok-secret-123"], **kw)  # type: ignore[arg-type]


def test_retries_429_honouring_retry_after_then_succeeds(sim: Echo) -> None:
    sleeps: list[float] = []
    sim.fail_next(Reply(429, b'{"error":"Too many requests"}', {"Retry-After": "7"}), Reply(503, b"busy"))
    assert client(sim, sleeps).get_json("/v1/x", params={"q": "a"}) == {"path": "/v1/x", "q": "a"}
    assert sleeps[0] == 7 and len(sleeps) == 2 and len(sim.requests) == 3


def test_rate_limit_reset_header_is_used_without_retry_after(sim: Echo) -> None:
    sleeps: list[float] = []
    sim.fail_next(Reply(429, b"{}", {"x-rate-limit-reset": "12"}))
    client(sim, sleeps).get_json("/")
    assert sleeps == [12]


def test_auth_errors_are_not_retried_and_hide_secrets(sim: Echo) -> None:
    sleeps: list[float] = []
    sim.fail_next(Reply(401, b'{"error":"The access token tok-secret-123 is invalid"}'))
    with pytest.raises(AuthError) as info:
        client(sim, sleeps).get_json("/")
    assert "tok-secret-123" not in str(info.value) and "401" in str(info.value)
    assert sleeps == [] and len(sim.requests) == 1


def test_gives_up_after_the_configured_attempts(sim: Echo) -> None:
    sleeps: list[float] = []
    sim.fail_next(*[Reply(500, b"down")] * 3)
    with pytest.raises(TransientError):
        client(sim, sleeps, attempts=3).get_json("/")
    assert len(sim.requests) == 3


def test_other_client_errors_carry_the_body(sim: Echo) -> None:
    sim.fail_next(Reply(422, b'{"error":"RecordInvalid"}'))
    with pytest.raises(ConnectorError) as info:
        client(sim, []).get_json("/")
    assert "RecordInvalid" in str(info.value) and not isinstance(info.value, TransientError)


def test_unreachable_server_is_transient() -> None:
    with pytest.raises(TransientError):
        HttpClient("http://127.0.0.1:9", timeout=1, attempts=1).get_json("/")


def test_page_guard_and_helpers() -> None:
    guard = PageGuard("mentions")
    guard.check("a")
    guard.check(None)
    with pytest.raises(PaginationLoop):
        guard.check("a")
    assert parse_wait("30") == 30
    assert parse_wait("2026-01-01T00:01:00Z", now=1767225600) == 60
    assert parse_wait(str(1767225600 + 5), now=1767225600) == 5
    assert parse_wait("soon") is None
    assert scrub("token=abcdef&x", ["abcdef"]) == "token=***&x"
    assert isinstance(RateLimited("x", 1), TransientError)
