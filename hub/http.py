"""HTTP for connectors and sinks: timeouts, error classes, retries with backoff, page-loop guard.

Every call has a timeout. Responses are classified like mature integration
frameworks do:

- 2xx: returned;
- 401 / 403: :class:`~hub.errors.AuthError`, a configuration problem, never retried;
- 429: :class:`~hub.errors.RateLimited`, retried after ``Retry-After`` or the
  provider's rate-limit reset header (epoch seconds, seconds, or ISO-8601);
- 5xx, timeouts, connection errors: :class:`~hub.errors.TransientError`, retried
  with exponential backoff and jitter (tenacity);
- other 4xx: :class:`~hub.errors.ConnectorError` with the response body.

Secrets given to the client are scrubbed from every error message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_random_exponential,
)

from hub.errors import AuthError, ConnectorError, PaginationLoop, RateLimited, TransientError

__all__ = ["HttpClient", "PageGuard", "parse_wait", "scrub"]

_RESET_HEADERS = ("x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret in ``text`` by ``***``."""
    for secret in sorted({s for s in secrets if s and len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def parse_wait(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` or rate-limit reset value, or None if unreadable."""
    if not value:
        return None
    value = value.strip()
    now = time.time() if now is None else now
    try:
        number = float(value)
    except ValueError:
        try:
            when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    if number > 1_000_000_000:  # an epoch timestamp
        return max(0.0, number - now)
    return max(0.0, number)


class PageGuard:
    """Detects a provider handing back a page token it already gave (an endless loop)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.seen: set[str] = set()

    def check(self, token: str | None) -> None:
        if token is None:
            return
        if token in self.seen:
            msg = f"{self.what}: page token {token[:40]!r} came back twice; stopping instead of looping"
            raise PaginationLoop(msg)
        self.seen.add(token)


class HttpClient:
    """A ``requests`` session with a base URL, auth, timeouts, classification and retries."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        attempts: int = 5,
        max_wait: float = 60.0,
        secrets: Iterable[str] = (),
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.session = requests.Session()
        self.session.auth = auth
        self.session.headers.update({"User-Agent": "complaint-hub/0.1", **dict(headers or {})})
        self.timeout = timeout
        self.attempts = attempts
        self.max_wait = max_wait
        self.secrets = list(secrets)
        self.sleep = sleep
        #: the last rate-limit headers seen (limit, remaining, reset), for health reports
        self.rate_limit: dict[str, str] = {}

    @classmethod
    def bearer(
        cls,
        base_url: str,
        token: str,
        *,
        timeout: float,
        attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> HttpClient:
        """A JSON API client with ``Authorization: Bearer <token>``; the token is scrubbed from errors."""
        return cls(
            base_url,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            attempts=attempts,
            secrets=[token],
            sleep=sleep,
        )

    @property
    def host(self) -> str:
        """The server's host[:port], for messages."""
        return urlsplit(self.base_url).netloc or self.base_url

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else urljoin(self.base_url, path.lstrip("/"))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send with retries; return a 2xx response or raise a classified error."""
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientError),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(self._once, method, path, **kwargs)

    def get_json(self, path: str, **kwargs: Any) -> Any:
        response = self.request("GET", path, **kwargs)
        try:
            return response.json()
        except ValueError:
            msg = f"GET {self._safe(response.url)}: response is not JSON: {self._excerpt(response)}"
            raise TransientError(msg) from None

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after is not None:
            return min(exc.retry_after, self.max_wait)
        return float(wait_random_exponential(multiplier=0.5, max=self.max_wait)(state))

    def _once(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = self.url(path)
        kwargs.setdefault("timeout", self.timeout)
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.Timeout:
            msg = f"{method} {self._safe(url)}: no answer within {self.timeout:g} s"
            raise TransientError(msg) from None
        except requests.ConnectionError as exc:
            msg = f"{method} {self._safe(url)}: connection failed: {self._safe(str(exc))[:200]}"
            raise TransientError(msg) from None
        self._note_rate_limit(response)
        status = response.status_code
        if 200 <= status < 300:
            return response
        where = f"{method} {self._safe(response.url or url)} -> {status}"
        if status in (401, 403):
            msg = f"{where}: credentials refused: {self._excerpt(response)}"
            raise AuthError(msg)
        if status == 429:
            wait = parse_wait(response.headers.get("Retry-After"))
            if wait is None:
                wait = next(
                    (parse_wait(response.headers.get(h)) for h in _RESET_HEADERS if h in response.headers),
                    None,
                )
            raise RateLimited(f"{where}: rate limited: {self._excerpt(response)}", retry_after=wait)
        if status >= 500:
            raise TransientError(f"{where}: {self._excerpt(response)}")
        raise ConnectorError(f"{where}: {self._excerpt(response)}")

    def _note_rate_limit(self, response: requests.Response) -> None:
        for key, value in response.headers.items():
            low = key.lower()
            if "ratelimit" in low or "rate-limit" in low:
                self.rate_limit[low] = value

    def _excerpt(self, response: requests.Response) -> str:
        return self._safe(response.text[:300].strip() or "(empty body)")

    def _safe(self, text: str) -> str:
        return scrub(text, self.secrets)
