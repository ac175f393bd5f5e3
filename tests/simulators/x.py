"""The X API v2 mentions timeline, as the official OpenAPI spec describes it (operation ``getUsersMentions``).

Serves ``GET /2/users/{id}`` (``getUsersById``) and ``GET /2/users/{id}/mentions``:

- bearer auth; a bad token is ``401`` with the problem JSON X sends
  (``{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}``);
- query parameters are validated like X does (400 ``invalid-request`` problem naming the
  parameter): unknown names, ``max_results`` 5–100 (default 10), id patterns
  ``^[0-9]{1,19}$``, field and expansion names from the spec's enums, pagination tokens;
- ``since_id`` / ``until_id`` exclusive, newest-first pages, ``meta.next_token`` followed with
  ``pagination_token``, ``meta.previous_token`` on later pages, ``newest_id`` / ``oldest_id`` /
  ``result_count``; ``data`` is absent when there are no results; only the latest 800 mentions
  are reachable;
- tweets carry ``id``, ``text``, ``edit_history_tweet_ids`` plus the requested ``tweet.fields``
  (``expansions=author_id`` / ``referenced_tweets.id`` add those fields); ``includes.users``
  and ``includes.tweets`` hold the expansions; a referenced tweet that was deleted gives a
  200 with partial ``errors[]`` (``resource-not-found``) beside the data;
- every response carries ``x-rate-limit-limit/-remaining/-reset`` (reset in epoch seconds);
  :meth:`throttled` builds X's 429 for ``fail_next``.

Tweet ids are snowflakes (milliseconds since the Twitter epoch << 22), so ids grow with time
and are 19 digits long, as for real.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.simulators.base import Recorded, Reply, Simulator

__all__ = ["EN_COMPLAINTS", "SHOP", "ZH_COMPLAINTS", "XSimulator"]

SHOP = {"id": "2244994945", "name": "The Shop", "username": "TheShop"}

EN_COMPLAINTS = [
    "my order A-1042 arrived with a cracked screen, I want a refund",
    "still waiting for parcel SF1234567890, it has been two weeks",
    "you charged me twice for order B-2231 &amp; nobody answers",
    "the blender stopped working after 3 days, see https://t.co/Xy12AbCd",
    "your courier left my parcel in the rain, everything is soaked",
]
ZH_COMPLAINTS = [
    "订单 W2-8861 还没到，快递单号 YT9988776655 一直没有更新",
    "收到的耳机左边没有声音，要求退货退款",
    "客服三天都不回复，太失望了",
    "同一个订单扣了两次款，请尽快处理",
    "包裹被快递员放在门口丢了，谁负责？",
]

_TWITTER_EPOCH_MS = 1288834974657
_REACHABLE = 800
_ID = re.compile(r"^[0-9]{1,19}$")
_NEXT = "7140dibdnow9c7btw3w"  # opaque-looking prefixes of the base36 pagination tokens
_PREV = "77qpymm88g5h9vqklu"

# enums of the spec's TweetFieldsParameter / TweetExpansionsParameter / UserFieldsParameter
TWEET_FIELDS = frozenset(
    [
        "article",
        "attachments",
        "author_id",
        "card_uri",
        "community_id",
        "context_annotations",
        "conversation_id",
        "created_at",
        "display_text_range",
        "edit_controls",
        "edit_history_tweet_ids",
        "entities",
        "geo",
        "id",
        "in_reply_to_user_id",
        "lang",
        "media_metadata",
        "non_public_metrics",
        "note_tweet",
        "organic_metrics",
        "possibly_sensitive",
        "promoted_metrics",
        "public_metrics",
        "referenced_tweets",
        "reply_settings",
        "scopes",
        "source",
        "suggested_source_links",
        "suggested_source_links_with_counts",
        "text",
        "withheld",
    ]
)
EXPANSIONS = frozenset(
    [
        "article.cover_media",
        "article.media_entities",
        "attachments.media_keys",
        "attachments.media_source_tweet",
        "attachments.poll_ids",
        "author_id",
        "edit_history_tweet_ids",
        "entities.mentions.username",
        "geo.place_id",
        "in_reply_to_user_id",
        "entities.note.mentions.username",
        "referenced_tweets.id",
        "referenced_tweets.id.attachments.media_keys",
        "referenced_tweets.id.author_id",
    ]
)
USER_FIELDS = frozenset(
    [
        "affiliation",
        "confirmed_email",
        "connection_status",
        "created_at",
        "description",
        "entities",
        "id",
        "is_identity_verified",
        "location",
        "most_recent_tweet_id",
        "name",
        "parody",
        "pinned_tweet_id",
        "profile_banner_url",
        "profile_image_url",
        "protected",
        "public_metrics",
        "receives_your_dm",
        "subscription",
        "subscription_type",
        "url",
        "username",
        "verified",
        "verified_followers_count",
        "verified_type",
        "withheld",
    ]
)
_MENTIONS_PARAMS = frozenset(
    [
        "since_id",
        "until_id",
        "max_results",
        "pagination_token",
        "start_time",
        "end_time",
        "tweet.fields",
        "expansions",
        "media.fields",
        "poll.fields",
        "user.fields",
        "place.fields",
    ]
)
_USER_PARAMS = frozenset({"user.fields", "expansions", "tweet.fields"})
_DEFAULT_TWEET_FIELDS = ("id", "text", "edit_history_tweet_ids")
_DEFAULT_USER_FIELDS = ("id", "name", "username")


class XSimulator(Simulator):
    """X API v2 with one shop account (:data:`SHOP`) receiving mentions."""

    def __init__(
        self,
        *,
        token: str = "AAAAAAAAAAAAAAAAAAAAAFakeBearerToken%2Fsim0123456789",
        start: datetime | None = None,
        rate_limit: int = 450,
    ) -> None:
        super().__init__()
        self.token = token
        self.tokens = {token}
        self.users: dict[str, dict[str, Any]] = {SHOP["id"]: dict(SHOP)}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.mentions: dict[str, list[str]] = {SHOP["id"]: []}  # ascending tweet ids per mentioned user
        self._clock = start or datetime(2026, 9, 1, 8, 0, tzinfo=UTC)
        self._sequence = itertools.count(1)
        self.rate_limit = rate_limit
        self.remaining = rate_limit
        self.reset_at = int(time.time()) + 900
        #: mimic X's habit of handing a ``next_token`` whose page turns out empty
        self.trailing_empty_page = False
        #: called after each handled request (tests use it to make mentions arrive mid-read)
        self.after_request: Callable[[Recorded], None] | None = None
        #: called with (operation, status, body) of every response ``handle`` builds (spec checks)
        self.on_response: Callable[[str, int, Any], None] | None = None

    # -- seeding ---------------------------------------------------------------------------
    def user(self, username: str, name: str = "") -> dict[str, Any]:
        for u in self.users.values():
            if u["username"].lower() == username.lower():
                return u
        user = {"id": str(1_400_000_000 + len(self.users)), "name": name or username, "username": username}
        self.users[user["id"]] = user
        return user

    def add_tweet(
        self,
        text: str,
        *,
        username: str = "jo_smith",
        name: str = "Jo Smith",
        lang: str = "en",
        reply_to: str | dict[str, Any] | None = None,
        quote: str | dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """Any tweet (stored in full); it counts as a mention of each account it @mentions."""
        author = self.user(username, name)
        self._clock = at or self._clock + timedelta(minutes=1)
        millis = int(self._clock.timestamp() * 1000)
        tweet_id = str(((millis - _TWITTER_EPOCH_MS) << 22) | (next(self._sequence) & 0x3FFFFF))
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author["id"],
            "created_at": self._clock.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{self._clock.microsecond // 1000:03d}Z",
            "conversation_id": tweet_id,
            "lang": lang,
        }
        references = []
        parent_id = _tweet_id(reply_to)
        if parent_id:
            references.append({"type": "replied_to", "id": parent_id})
            parent = self.tweets.get(parent_id)
            tweet["conversation_id"] = parent["conversation_id"] if parent else parent_id
            if parent:
                tweet["in_reply_to_user_id"] = parent["author_id"]
        quoted = _tweet_id(quote)
        if quoted:
            references.append({"type": "quoted", "id": quoted})
        if references:
            tweet["referenced_tweets"] = references
        entities = self._entities(text)
        if entities:
            tweet["entities"] = entities
        with self.lock:
            self.tweets[tweet_id] = tweet
            for mention in entities.get("mentions", []):
                self.mentions.setdefault(mention["id"], []).append(tweet_id)
        return tweet

    def add_mention(
        self,
        text: str | None = None,
        *,
        username: str = "jo_smith",
        name: str = "Jo Smith",
        lang: str = "en",
        reply_to: str | dict[str, Any] | None = None,
        quote: str | dict[str, Any] | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A tweet by ``username`` starting with ``@TheShop``; a zh or en complaint unless ``text`` is given."""
        n = next(self._sequence)
        if text is None:
            text = (ZH_COMPLAINTS if lang == "zh" else EN_COMPLAINTS)[n % 5]
        return self.add_tweet(
            f"@{SHOP['username']} {text}",
            username=username,
            name=name,
            lang=lang,
            reply_to=reply_to,
            quote=quote,
            at=at,
        )

    def delete_tweet(self, tweet: str | dict[str, Any]) -> None:
        tweet_id = _tweet_id(tweet)
        with self.lock:
            self.tweets.pop(tweet_id or "", None)
            for ids in self.mentions.values():
                if tweet_id in ids:
                    ids.remove(tweet_id)

    def _entities(self, text: str) -> dict[str, Any]:
        mentions = []
        for m in re.finditer(r"@([A-Za-z0-9_]{1,15})", text):
            known = next(
                (u for u in self.users.values() if u["username"].lower() == m.group(1).lower()), None
            )
            if known is not None:
                mentions.append(
                    {"start": m.start(), "end": m.end(), "username": m.group(1), "id": known["id"]}
                )
        urls = [
            {
                "start": m.start(),
                "end": m.end(),
                "url": m.group(0),
                "expanded_url": f"https://shop.example/help/{m.group(1)}",
                "display_url": f"shop.example/help/{m.group(1)}",
            }
            for m in re.finditer(r"https://t\.co/(\w+)", text)
        ]
        entities: dict[str, Any] = {}
        if mentions:
            entities["mentions"] = mentions
        if urls:
            entities["urls"] = urls
        return entities

    # -- scripted faults -------------------------------------------------------------------
    def throttled(self, *, reset_in: int = 30, retry_after: int | None = None) -> Reply:
        """X's 429: problem JSON and ``x-rate-limit-reset`` in epoch seconds."""
        headers = {
            "Content-Type": "application/problem+json",
            "x-rate-limit-limit": str(self.rate_limit),
            "x-rate-limit-remaining": "0",
            "x-rate-limit-reset": str(int(time.time()) + reset_in),
        }
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        body = {
            "title": "Too Many Requests",
            "detail": "Too Many Requests",
            "type": "about:blank",
            "status": 429,
        }
        return Reply.json(body, 429, headers)

    def server_error(self, status: int = 503) -> Reply:
        """A 5xx in X's problem form (with the rate-limit headers every answer carries)."""
        titles = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
        title = titles.get(status, "Service Unavailable")
        body = {"title": title, "detail": title, "type": "about:blank", "status": status}
        headers = {"Content-Type": "application/problem+json", **self._rate_headers()}
        return Reply.json(body, status, headers)

    # -- the API ---------------------------------------------------------------------------
    def handle(self, request: Recorded) -> Reply:
        operation, reply, body = self._route(request)
        if self.on_response is not None:
            self.on_response(operation, reply.status, body)
        reply.headers.update(self._rate_headers())
        if self.after_request is not None:
            self.after_request(request)
        return reply

    def _route(self, request: Recorded) -> tuple[str, Reply, Any]:
        m = re.fullmatch(r"/2/users/([^/]+)(/mentions)?", request.path)
        if request.method != "GET" or m is None:
            return "unknown", *_problem(404, "Not Found Error", "Sorry, that page does not exist.")
        operation = "getUsersMentions" if m.group(2) else "getUsersById"
        if not self._authorized(request):
            return operation, *_problem(401, "Unauthorized", "Unauthorized")
        allowed = _MENTIONS_PARAMS if m.group(2) else _USER_PARAMS
        invalid = self._invalid_params(request, allowed, m.group(1))
        if invalid:
            return operation, *invalid
        user = self.users.get(m.group(1))
        if user is None:
            body: dict[str, Any] = {"errors": [_not_found("user", "id", m.group(1))]}
            return operation, Reply.json(body), body
        if not m.group(2):
            body = {"data": _project(user, _DEFAULT_USER_FIELDS, _fields(request, "user.fields"))}
            return operation, Reply.json(body), body
        body = self._mentions(request, user)
        return operation, Reply.json(body), body

    def _authorized(self, request: Recorded) -> bool:
        header = request.headers.get("authorization", "")
        return header.lower().startswith("bearer ") and header[7:].strip() in self.tokens

    def _invalid_params(
        self, request: Recorded, allowed: frozenset[str], user_id: str
    ) -> tuple[Reply, Any] | None:
        problems: list[dict[str, Any]] = []

        def bad(name: str, value: str, message: str) -> None:
            problem: dict[str, Any] = {"parameters": {name: [value]}, "message": message}
            problems.append(problem)

        if not _ID.match(user_id):
            bad("id", user_id, f"The `id` query parameter value [{user_id}] does not match ^[0-9]{{1,19}}$")
        for name, values in request.query.items():
            value = values[0]
            if name not in allowed:
                bad(name, value, f"The query parameter [{name}] is not one of [{','.join(sorted(allowed))}]")
            elif len(values) > 1:
                bad(name, value, f"Duplicate parameters are not allowed: the `{name}` query parameter")
            elif name == "max_results":
                if not value.isdigit() or not 5 <= int(value) <= 100:
                    bad(
                        name,
                        value,
                        f"The `max_results` query parameter value [{value}] is not between 5 and 100",
                    )
            elif name in ("since_id", "until_id") and not _ID.match(value):
                bad(
                    name,
                    value,
                    f"The `{name}` query parameter value [{value}] does not match ^[0-9]{{1,19}}$",
                )
            elif name == "pagination_token" and _decode_token(value) is None:
                bad(name, value, f"The `pagination_token` query parameter value [{value}] is not valid")
            elif name in ("tweet.fields", "expansions", "user.fields"):
                enum = {"tweet.fields": TWEET_FIELDS, "expansions": EXPANSIONS, "user.fields": USER_FIELDS}[
                    name
                ]
                for item in value.split(","):
                    if item not in enum:
                        bad(
                            name,
                            item,
                            f"The `{name}` query parameter value [{item}] is not one of [{','.join(sorted(enum))}]",
                        )
        if not problems:
            return None
        body = {
            "errors": problems,
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }
        return Reply.json(body, 400), body

    def _mentions(self, request: Recorded, user: dict[str, Any]) -> dict[str, Any]:
        size = int(request.param("max_results") or 10)
        since, until = (int(request.param(k) or 0) or None for k in ("since_id", "until_id"))
        token = (
            _decode_token(request.param("pagination_token") or "")
            if request.param("pagination_token")
            else None
        )
        with self.lock:
            ids = sorted(int(i) for i in self.mentions.get(user["id"], []))[-_REACHABLE:]
        ids = [i for i in ids if (since is None or i > since) and (until is None or i < until)]
        if token is None:
            page = sorted(ids, reverse=True)[:size]
        elif token[0] == "next":
            page = sorted((i for i in ids if i < token[1]), reverse=True)[:size]
        else:
            page = sorted(i for i in ids if i > token[1])[:size][::-1]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = str(page[0]), str(page[-1])
            if any(i < page[-1] for i in ids) or self.trailing_empty_page:
                meta["next_token"] = _NEXT + _b36(page[-1])
            if token is not None:
                meta["previous_token"] = _PREV + _b36(page[0])
        if not page:
            return {"meta": meta}
        tweet_fields = _fields(request, "tweet.fields")
        expansions = _fields(request, "expansions")
        user_fields = _fields(request, "user.fields")
        implied: set[str] = {e for e in ("author_id", "in_reply_to_user_id") if e in expansions}
        if "referenced_tweets.id" in expansions:
            implied.add("referenced_tweets")
        data = [_project(self.tweets[str(i)], _DEFAULT_TWEET_FIELDS, tweet_fields | implied) for i in page]
        includes: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        if "referenced_tweets.id" in expansions:
            seen: set[str] = set()
            for tweet in data:
                for ref in tweet.get("referenced_tweets", []):
                    if ref["id"] in seen:
                        continue
                    seen.add(ref["id"])
                    if ref["id"] in self.tweets:
                        includes.setdefault("tweets", []).append(
                            _project(self.tweets[ref["id"]], _DEFAULT_TWEET_FIELDS, tweet_fields)
                        )
                    else:
                        errors.append(_not_found("tweet", "referenced_tweets.id", ref["id"]))
        author_ids = []
        if "author_id" in expansions:
            author_ids += [t["author_id"] for t in data]
        if "referenced_tweets.id.author_id" in expansions:
            author_ids += [t["author_id"] for t in includes.get("tweets", [])]
        users = [self.users[a] for a in dict.fromkeys(author_ids) if a in self.users]
        if users:
            includes["users"] = [_project(u, _DEFAULT_USER_FIELDS, user_fields) for u in users]
        body: dict[str, Any] = {"data": data}
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        body["meta"] = meta
        return body

    def _rate_headers(self) -> dict[str, str]:
        with self.lock:
            now = int(time.time())
            if now >= self.reset_at:
                self.remaining, self.reset_at = self.rate_limit, now + 900
            self.remaining = max(self.remaining - 1, 0)
            return {
                "x-rate-limit-limit": str(self.rate_limit),
                "x-rate-limit-remaining": str(self.remaining),
                "x-rate-limit-reset": str(self.reset_at),
            }


def _tweet_id(value: str | dict[str, Any] | None) -> str | None:
    return value.get("id") if isinstance(value, dict) else value


def _fields(request: Recorded, name: str) -> set[str]:
    value = request.param(name)
    return set(value.split(",")) if value else set()


def _project(obj: dict[str, Any], defaults: tuple[str, ...], requested: set[str]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k in defaults or k in requested}


def _problem(status: int, title: str, detail: str) -> tuple[Reply, Any]:
    body = {"title": title, "type": "about:blank", "status": status, "detail": detail}
    return Reply.json(body, status, {"Content-Type": "application/problem+json"}), body


def _not_found(resource_type: str, parameter: str, value: str) -> dict[str, Any]:
    label = "user" if resource_type == "user" else "tweet"
    return {
        "value": value,
        "detail": f"Could not find {label} with {parameter}: [{value}].",
        "title": "Not Found Error",
        "resource_type": resource_type,
        "parameter": parameter,
        "resource_id": value,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _b36(number: int) -> str:
    out = ""
    while True:
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
        if number == 0:
            return out


def _decode_token(token: str) -> tuple[str, int] | None:
    for kind, prefix in (("next", _NEXT), ("prev", _PREV)):
        if token.startswith(prefix) and len(token) > len(prefix):
            try:
                return kind, int(token[len(prefix) :], 36)
            except ValueError:
                return None
    return None
