"""A Mastodon instance's notifications API, as documented (see PROVIDERS.md, Mastodon).

Serves ``GET /api/v1/accounts/verify_credentials`` and ``GET /api/v1/notifications``
with the real semantics of Mastodon's id pagination (``app/models/concerns/paginable.rb``):

- ``max_id`` (older than), ``since_id`` (newer than; the *newest* ``limit`` items) and
  ``min_id`` (the items *immediately* after it, i.e. forward paging without gaps; it
  takes precedence over ``since_id``); ``limit`` defaults to 40 and is capped at 80;
- arrays are newest-first; ``Link: <...max_id=OLDEST>; rel="next", <...min_id=NEWEST>; rel="prev"``
  keeps ``limit`` and ``types[]``; an empty result has no ``Link``;
- ``types[]`` / ``exclude_types[]`` filter by notification type;
- bearer auth: an unknown or missing token is ``401 {"error":"The access token is invalid"}``,
  a token without the scope is ``403 {"error":"This action is outside the authorized scopes"}``;
- every response carries ``X-RateLimit-Limit/-Remaining/-Reset`` (Reset as ISO-8601 with
  microseconds, as Mastodon's rack-attack sends it); :meth:`throttled` builds the 429
  Mastodon sends (``{"error":"Too many requests"}``, no ``Retry-After``) for ``fail_next``.

Notification ids are sequential numbers; status ids are snowflakes (milliseconds << 16),
so the cursor (a notification id) and the native id (a status id) differ, as for real.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from tests.simulators.base import Recorded, Reply, Simulator

__all__ = ["EN_COMPLAINTS", "ZH_COMPLAINTS", "MastodonSimulator"]

EN_COMPLAINTS = [
    "my order A-1042 arrived with a cracked screen, I want a refund",
    "still waiting for parcel SF1234567890, it has been two weeks",
    "the kettle I bought leaks and sparks, this is dangerous!",
    "you charged me twice for order B-2231, please fix it",
    "customer service never answered my email about the broken zip",
]
ZH_COMPLAINTS = [
    "订单 W2-8861 还没到，快递单号 YT9988776655 一直没有更新",
    "收到的耳机左边没有声音，要求退货退款",
    "客服三天都不回复，太失望了",
    "同一个订单扣了两次款，请尽快处理",
    "包裹被快递员放在门口丢了，谁负责？",
]

_SCOPE_IMPLIED = {"read:accounts": {"read", "profile"}, "read:notifications": {"read"}}
_MAX_LIMIT = 80
_DEFAULT_LIMIT = 40


class MastodonSimulator(Simulator):
    """One Mastodon instance with one shop account receiving mentions."""

    host = "social.example"

    def __init__(
        self,
        *,
        token: str = "masto-ZmFrZS10b2tlbi0xMjM0NTY3ODkw",
        scopes: set[str] | None = None,
        first_notification_id: int = 34_975_000,
        start: datetime | None = None,
        rate_limit: int = 300,
    ) -> None:
        super().__init__()
        self.token = token
        self.tokens: dict[str, set[str]] = {token: scopes or {"read:accounts", "read:notifications"}}
        self.notifications: list[dict[str, Any]] = []  # ascending by id
        self.statuses: dict[str, dict[str, Any]] = {}
        self.accounts: dict[str, dict[str, Any]] = {}
        self._notification_ids = itertools.count(first_notification_id)
        self._clock = start or datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
        self._sequence = itertools.count(1)
        self.rate_limit = rate_limit
        self.remaining = rate_limit
        self.reset_at = datetime.now(UTC) + timedelta(minutes=5)
        #: called after each handled request (tests use it to make mentions arrive mid-read)
        self.after_request: Callable[[Recorded], None] | None = None
        self.shop = self.account("shop", "The Shop", local=True)

    # -- seeding ---------------------------------------------------------------------------
    def account(
        self, username: str, display_name: str = "", *, domain: str | None = None, local: bool = False
    ) -> dict[str, Any]:
        """The account ``username`` (``username@domain`` when remote), created on first use."""
        acct = username if local or domain is None else f"{username}@{domain}"
        if acct not in self.accounts:
            home = self.host if domain is None else domain
            self.accounts[acct] = {
                "id": str(100_000 + len(self.accounts)),
                "username": username,
                "acct": acct,
                "display_name": display_name or username,
                "url": f"https://{home}/@{username}",
                "uri": f"https://{home}/users/{username}",
                "locked": False,
                "bot": False,
                "created_at": "2024-01-01T00:00:00.000Z",
                "note": "",
                "avatar": f"https://{self.host}/avatars/original/missing.png",
                "followers_count": 3,
                "following_count": 5,
                "statuses_count": 12,
            }
        return self.accounts[acct]

    def add_mention(
        self,
        text: str | None = None,
        *,
        username: str = "alice",
        display_name: str = "Alice Chen",
        domain: str | None = None,
        lang: str = "en",
        in_reply_to: dict[str, Any] | str | None = None,
        visibility: str = "public",
        spoiler_text: str = "",
        media: list[dict[str, Any]] | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A status by ``username`` mentioning the shop, and its ``mention`` notification (returned).

        ``in_reply_to`` is a notification or status this one answers (a reply chain).
        """
        n = next(self._sequence)
        if text is None:
            text = (ZH_COMPLAINTS if lang == "zh" else EN_COMPLAINTS)[n % 5]
        author = self.account(username, display_name, domain=domain)
        status = self._status(author, text, lang, in_reply_to, visibility, spoiler_text, media, at)
        return self._notify("mention", author, status)

    def add_shop_reply(self, to: dict[str, Any], text: str) -> dict[str, Any]:
        """The shop answering a mention (a status, no notification for the shop itself)."""
        parent = to.get("status", to)
        author = self.accounts[parent["account"]["acct"]]
        body = f"@{author['acct']} {text}"
        return self._status(self.shop, body, "en", parent, "public", "", None, None, mention=author)

    def add_notification(self, kind: str, *, username: str = "bob") -> dict[str, Any]:
        """A notification of another type (``favourite``, ``follow``, ``reblog``...) for filtering."""
        author = self.account(username, username.title())
        status = None
        if kind in ("favourite", "reblog"):
            status = self._status(self.shop, "new kettles in stock", "en", None, "public", "", None, None)
        return self._notify(kind, author, status)

    def _status(
        self,
        author: dict[str, Any],
        text: str,
        lang: str,
        in_reply_to: dict[str, Any] | str | None,
        visibility: str,
        spoiler_text: str,
        media: list[dict[str, Any]] | None,
        at: datetime | None,
        *,
        mention: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self._clock = at or self._clock + timedelta(minutes=1)
        millis = int(self._clock.timestamp() * 1000)
        status_id = str((millis << 16) | (len(self.statuses) & 0xFFFF))
        target = mention or self.shop
        parent = None
        if isinstance(in_reply_to, dict):
            parent = in_reply_to.get("status", in_reply_to)
        elif isinstance(in_reply_to, str):
            parent = self.statuses.get(in_reply_to)
        h_card = (
            f'<span class="h-card" translate="no"><a href="{target["url"]}" class="u-url mention">'
            f"@<span>{target['username']}</span></a></span>"
        )
        body = html.escape(re.sub(r"^@\S+\s*", "", text))
        content = f"<p>{h_card} {body}</p>"
        status = {
            "id": status_id,
            "uri": f"{author['uri']}/statuses/{status_id}",
            "url": f"{author['url']}/{status_id}",
            "created_at": _iso(self._clock),
            "edited_at": None,
            "in_reply_to_id": parent["id"]
            if parent
            else (in_reply_to if isinstance(in_reply_to, str) else None),
            "in_reply_to_account_id": parent["account"]["id"] if parent else None,
            "sensitive": bool(spoiler_text),
            "spoiler_text": spoiler_text,
            "visibility": visibility,
            "language": lang,
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "content": content,
            "reblog": None,
            "account": author,
            "media_attachments": media or [],
            "mentions": [
                {
                    "id": target["id"],
                    "username": target["username"],
                    "acct": target["acct"],
                    "url": target["url"],
                }
            ],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        self.statuses[status_id] = status
        return status

    def _notify(self, kind: str, author: dict[str, Any], status: dict[str, Any] | None) -> dict[str, Any]:
        notification: dict[str, Any] = {
            "id": str(next(self._notification_ids)),
            "type": kind,
            "created_at": status["created_at"] if status else _iso(self._clock),
            "account": author,
        }
        if status is not None:
            notification["status"] = status
        with self.lock:
            self.notifications.append(notification)
        return notification

    # -- scripted faults -------------------------------------------------------------------
    def throttled(self, *, reset_in: float = 30.0, retry_after: int | None = None) -> Reply:
        """The 429 Mastodon sends (rack-attack); ``retry_after`` adds a proxy's ``Retry-After``."""
        reset = datetime.now(UTC) + timedelta(seconds=reset_in)
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": _iso(reset, micro=True),
        }
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return Reply.json({"error": "Too many requests"}, 429, headers)

    def server_error(self, status: int = 503) -> Reply:
        """A 5xx as the instance's reverse proxy sends it: an HTML page (rate-limit headers kept)."""
        page = f"<html><body><h1>{status} Service Temporarily Unavailable</h1></body></html>"
        return Reply(status, page.encode(), {"Content-Type": "text/html", **self._rate_headers()})

    # -- the API ---------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        reply = self._route(request)
        reply.headers.update(self._rate_headers())
        if self.after_request is not None:
            self.after_request(request)
        return reply

    def _route(self, request: Recorded) -> Reply:
        if request.method != "GET":
            return Reply.json({"error": "Record not found"}, 404)
        if request.path == "/api/v1/accounts/verify_credentials":
            denied = self._authorize(request, "read:accounts")
            return denied or Reply.json({**self.shop, "source": {"privacy": "public", "note": ""}})
        if request.path == "/api/v1/notifications":
            denied = self._authorize(request, "read:notifications")
            return denied or self._notifications(request)
        return Reply.json({"error": "Record not found"}, 404)

    def _authorize(self, request: Recorded, scope: str) -> Reply | None:
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if token not in self.tokens:
            return Reply.json({"error": "The access token is invalid"}, 401)
        granted = self.tokens[token]
        if scope not in granted and not (_SCOPE_IMPLIED.get(scope, set()) & granted):
            return Reply.json({"error": "This action is outside the authorized scopes"}, 403)
        return None

    def _notifications(self, request: Recorded) -> Reply:
        q = request.query
        types = set(q.get("types[]", []))
        excluded = set(q.get("exclude_types[]", []))
        limit = _limit(request.param("limit"))
        max_id, since_id, min_id = (_as_id(request.param(k)) for k in ("max_id", "since_id", "min_id"))
        with self.lock:
            rows = [
                n
                for n in self.notifications
                if (not types or n["type"] in types)
                and n["type"] not in excluded
                and (max_id is None or int(n["id"]) < max_id)
            ]
        if min_id is not None:  # the items right after min_id, returned newest-first
            page = [n for n in rows if int(n["id"]) > min_id][:limit][::-1]
        else:
            page = [n for n in reversed(rows) if since_id is None or int(n["id"]) > since_id][:limit]
        headers: dict[str, str] = {}
        if page:
            keep = [(k, v) for k in ("limit", "types[]", "exclude_types[]") for v in q.get(k, [])]
            base = f"{self.url}/api/v1/notifications"
            older = urlencode([*keep, ("max_id", page[-1]["id"])])
            newer = urlencode([*keep, ("min_id", page[0]["id"])])
            headers["Link"] = f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'
        return Reply.json(page, headers=headers)

    def _rate_headers(self) -> dict[str, str]:
        with self.lock:
            now = datetime.now(UTC)
            if now >= self.reset_at:
                self.remaining, self.reset_at = self.rate_limit, now + timedelta(minutes=5)
            self.remaining = max(self.remaining - 1, 0)
            return {
                "X-RateLimit-Limit": str(self.rate_limit),
                "X-RateLimit-Remaining": str(self.remaining),
                "X-RateLimit-Reset": _iso(self.reset_at, micro=True),
            }


def _iso(when: datetime, *, micro: bool = False) -> str:
    """Mastodon's timestamps: ``2026-09-01T08:01:00.000Z`` (entities), microseconds in rate-limit headers."""
    when = when.astimezone(UTC)
    frac = f"{when.microsecond:06d}" if micro else f"{when.microsecond // 1000:03d}"
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + frac + "Z"


def _limit(value: str | None) -> int:
    """Mastodon's ``limit_param``: blank means the default, otherwise ``|to_i|`` capped at 80."""
    if not value:
        return _DEFAULT_LIMIT
    match = re.match(r"\s*-?(\d+)", value)
    return min(abs(int(match.group(1))) if match else 0, _MAX_LIMIT)


def _as_id(value: str | None) -> int | None:
    """An id parameter (blank is absent; ``min_id=0`` pages from the very first item)."""
    if value is None or not value.strip():
        return None
    match = re.match(r"\s*(\d+)", value)
    return int(match.group(1)) if match else 0
