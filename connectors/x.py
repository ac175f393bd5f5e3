"""X (Twitter) connector: mentions of the shop's account.

Supports captures of X API v2 ``GET /2/users/{id}/mentions`` pages (``data[]``,
``includes.users[]``, ``meta``), following the official OpenAPI spec
(xdevplatform/xdk ``latest-openapi.json``, operation ``getUsersMentions``; see
PROVIDERS.md). A page becomes one raw item per tweet; its payload is
``{"tweet", "author", "includes"}`` so each item parses on its own.
Native id: the tweet ``id``.

Live polling (``read``) asks for the mentions after the cursor (``since_id``,
exclusive) and follows ``meta.next_token`` as ``pagination_token`` to the last
page (a token that comes back twice stops the read). X pages run newest-first,
so the pages of one poll are collected and then yielded oldest-first, in
batches whose cursor is the largest tweet id (compared as a number) they hold:
a crash between batches resumes without a gap. Pages without ``data``
(``result_count`` 0) are empty; partial ``errors[]`` beside ``data`` (a deleted
referenced tweet, say) are logged and the tweets kept. Only the latest 800
mentions are reachable through this endpoint, so the first poll (empty cursor)
reads those.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlparse

from pydantic import Field, SecretStr

from hub.connector import Batch, Capability, ConnectorConfig, Cursor, ReadContext, SourceConnector
from hub.errors import AuthError, CheckFailed, ConnectorError, ParseError, TransientError
from hub.http import HttpClient, PageGuard
from hub.models import Channel, ComplaintMessage, Identity, IdentityKind, RawItem
from hub.sdk import (
    as_text,
    decode_json,
    json_bytes,
    optional_timestamp,
    parse_errors,
    require_mapping,
    strip_leading_mentions,
    unescape_entities,
)

__all__ = ["EXPANSIONS", "TWEET_FIELDS", "USER_FIELDS", "XConfig", "XConnector", "http_client", "tweet_text"]

EXPANSIONS = "author_id,referenced_tweets.id"
TWEET_FIELDS = (
    "created_at,conversation_id,lang,referenced_tweets,entities,in_reply_to_user_id,edit_history_tweet_ids"
)
USER_FIELDS = "username,name"

#: how retries wait (``HttpClient``'s ``sleep``); tests replace it to run without real pauses
sleep: Callable[[float], None] = time.sleep


class XConfig(ConnectorConfig):
    """The shop's X account and an app bearer token (or OAuth2 user token: ``tweet.read users.read``)."""

    base_url: str = Field(default="https://api.x.com", pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
    bearer_token: SecretStr = Field(min_length=1)
    #: numeric id of the shop's account (not its @handle)
    user_id: str = Field(pattern=r"^[0-9]{1,19}$")
    #: tweets per page (the API allows 5 to 100)
    max_results: int = Field(default=100, ge=5, le=100)


def http_client(config: XConfig, *, attempts: int = 5) -> HttpClient:
    """The HTTP client for the X API: bearer auth, timeouts, retries, the token scrubbed from errors."""
    return HttpClient.bearer(
        config.base_url,
        config.bearer_token.get_secret_value(),
        timeout=config.timeout,
        attempts=attempts,
        sleep=sleep,
    )


def _host(config: XConfig) -> str:
    return urlparse(config.base_url).netloc or config.base_url


def _problems(errors: Any) -> str:
    """A short summary of an ``errors[]`` array of problem objects."""
    parts = []
    for problem in _objects(errors)[:5]:
        title = as_text(problem.get("title")) or as_text(problem.get("type")) or "error"
        detail = as_text(problem.get("detail")) or as_text(problem.get("message"))
        parts.append(f"{title}: {detail}" if detail else title)
    more = len(_objects(errors)) - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "") if parts else "(no details)"


#: referenced tweet types that make this tweet part of another one's thread
_PARENT_REFERENCES = ("replied_to", "quoted")


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _objects(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _includes_for(tweet: dict[str, Any], includes: dict[str, Any]) -> dict[str, Any]:
    """The part of the page's ``includes`` this tweet refers to (other than its author)."""
    subset: dict[str, Any] = {}
    ref_ids = {as_text(r.get("id")) for r in _objects(tweet.get("referenced_tweets"))}
    tweets = [t for t in _objects(includes.get("tweets")) if as_text(t.get("id")) in ref_ids]
    if tweets:
        subset["tweets"] = tweets
    attachments = _object(tweet.get("attachments"))
    media_keys = {key for key in _list(attachments.get("media_keys")) if isinstance(key, str)}
    media = [m for m in _objects(includes.get("media")) if as_text(m.get("media_key")) in media_keys]
    if media:
        subset["media"] = media
    mentioned = {as_text(m.get("username")) for m in _objects(_object(tweet.get("entities")).get("mentions"))}
    users = [u for u in _objects(includes.get("users")) if as_text(u.get("username")) in mentioned - {None}]
    if users:
        subset["users"] = users
    return subset


def tweet_text(tweet: dict[str, Any]) -> str:
    """Tweet text with t.co links expanded, entities decoded and leading @mentions dropped."""
    text = tweet.get("text")
    if not isinstance(text, str):
        return ""
    entities = _object(tweet.get("entities"))
    for url in _objects(entities.get("urls")):
        short = as_text(url.get("url"))
        expanded = as_text(url.get("unwound_url")) or as_text(url.get("expanded_url"))
        if short and expanded:
            text = text.replace(short, expanded)
    return strip_leading_mentions(unescape_entities(text)).strip()


class XConnector(SourceConnector):
    """Mentions on X, one message per tweet."""

    name: ClassVar[str] = "x"
    channel: ClassVar[Channel] = Channel.x
    capabilities: ClassVar[frozenset[str]] = frozenset({Capability.IMPORT, Capability.POLL})
    Config: ClassVar[type[ConnectorConfig]] = XConfig

    # -- live source -----------------------------------------------------------------------
    def check(self, config: XConfig) -> None:
        """The token is accepted and ``user_id`` is an existing account (``GET /2/users/{id}``)."""
        client = http_client(config, attempts=2)
        host = _host(config)
        try:
            answer = client.get_json(f"/2/users/{config.user_id}", params={"user.fields": USER_FIELDS})
        except AuthError as exc:
            raise CheckFailed(
                f"bearer token refused by {host}: {exc}",
                "set bearer_token to the app's Bearer Token (developer portal, Keys and tokens), "
                "or a user token with tweet.read and users.read",
            ) from None
        except ConnectorError as exc:
            raise CheckFailed(
                f"the X API at {host} did not accept the check: {exc}",
                "check base_url, user_id (the numeric account id) and the network",
            ) from None
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
            errors = answer.get("errors") if isinstance(answer, dict) else None
            raise CheckFailed(
                f"no X account with id {config.user_id} on {host}: {_problems(errors)}",
                "user_id must be the numeric id of the shop's account, not its @handle",
            )

    def read(self, config: XConfig, cursor: Cursor, ctx: ReadContext) -> Iterator[Batch]:
        """Mentions after ``cursor[""]`` (a tweet id), oldest first, in batches of ``max_results``."""
        since = cursor.get("") or None
        if since is not None and not since.isdigit():
            msg = f"x {ctx.instance}: the saved cursor {since!r} is not a tweet id; reset the cursor"
            raise ConnectorError(msg)
        client = http_client(config)
        host = _host(config)
        path = f"/2/users/{config.user_id}/mentions"
        source = f"{config.base_url.rstrip('/')}{path}"
        params: dict[str, str] = {
            "max_results": str(config.max_results),
            "expansions": EXPANSIONS,
            "tweet.fields": TWEET_FIELDS,
            "user.fields": USER_FIELDS,
        }
        if since is not None:
            params["since_id"] = since
        guard = PageGuard(f"x {host} mentions")
        found: dict[str, RawItem] = {}
        token: str | None = None
        pages = 0
        while True:
            query = {**params, "pagination_token": token} if token else params
            page = client.get_json(path, params=query)
            pages += 1
            for item in self._page_items(page, ctx, source, host):
                if since is None or int(item.native_id) > int(since):
                    found.setdefault(item.native_id, item)
            meta = page.get("meta") if isinstance(page.get("meta"), dict) else {}
            token = as_text(meta.get("next_token"))
            if token is None:
                break
            guard.check(token)
        ordered = sorted(found.values(), key=lambda i: int(i.native_id))
        if ctx.max_items is not None:
            ordered = ordered[: max(ctx.max_items, 0)]
        ctx.log.debug(
            "x %s: %d new mention(s) in %d page(s) after since_id=%s", host, len(found), pages, since
        )
        for start in range(0, len(ordered), config.max_results):
            chunk = ordered[start : start + config.max_results]
            yield Batch(chunk, partition="", cursor=chunk[-1].native_id)

    def _page_items(self, page: Any, ctx: ReadContext, source: str, host: str) -> list[RawItem]:
        """A page's tweets as raw items (as ``split_capture`` makes them); malformed pages are transient."""
        if not isinstance(page, dict):
            raise TransientError(f"x {host} mentions: expected a JSON object, got {type(page).__name__}")
        errors = page.get("errors")
        if "data" not in page and "meta" not in page and errors:
            # a 200 carrying only errors: the request itself failed (unknown user id, suspended account)
            raise ConnectorError(f"x {host} mentions: the API answered with errors only: {_problems(errors)}")
        if errors:
            ctx.log.warning("x %s mentions: partial errors beside the page: %s", host, _problems(errors))
        try:
            items = self.split_capture(
                json_bytes(page), instance=ctx.instance, received_at=datetime.now(UTC), source=source
            )
        except ParseError as exc:
            raise TransientError(f"x {host} mentions: malformed page: {exc}") from None
        for item in items:
            if not item.native_id.isdigit():
                raise TransientError(f"x {host} mentions: malformed page: tweet id {item.native_id!r}")
        return items

    # -- captures --------------------------------------------------------------------------

    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        """One raw item per tweet of the page; a page without ``data`` (no results) gives none."""
        page = require_mapping(decode_json(data), "X mentions page")
        if "data" not in page:
            if isinstance(page.get("meta"), dict) or isinstance(page.get("errors"), list):
                return []
            raise ParseError("not an X mentions page: no data[] or meta")
        tweets = page["data"]
        if not isinstance(tweets, list):
            raise ParseError("not an X mentions page: data is not an array")
        includes = _object(page.get("includes"))
        users = {as_text(u.get("id")): u for u in _objects(includes.get("users"))}
        items = []
        for index, entry in enumerate(tweets):
            tweet = require_mapping(entry, f"X mentions page data[{index}]")
            tweet_id = as_text(tweet.get("id"))
            if tweet_id is None:
                raise ParseError(f"not an X tweet: data[{index}] has no id")
            payload = {
                "tweet": tweet,
                "author": users.get(as_text(tweet.get("author_id"))),
                "includes": _includes_for(tweet, includes),
            }
            items.append(
                RawItem(
                    connector=self.name,
                    instance=instance,
                    native_id=tweet_id,
                    received_at=received_at,
                    occurred_at=optional_timestamp(
                        tweet.get("created_at"), field=f"tweet {tweet_id} created_at"
                    ),
                    payload=json_bytes(payload),
                    source=source,
                )
            )
        return items

    def parse(self, raw: RawItem) -> ComplaintMessage:
        """Text, author handle and name, conversation / reply keys, language hint."""
        item = require_mapping(decode_json(raw.payload), "X item")
        tweet = item.get("tweet")
        if not isinstance(tweet, dict) or as_text(tweet.get("id")) is None:
            raise ParseError("not an X item: no tweet.id")
        with parse_errors(f"x tweet {tweet.get('id')}"):
            return self._parse(raw, tweet, item.get("author"))

    def _parse(self, raw: RawItem, tweet: dict[str, Any], author: Any) -> ComplaintMessage:
        tweet_id = str(tweet["id"]).strip()
        identities: list[Identity] = []
        customer_name = None
        extra: dict[str, Any] = {}
        if isinstance(author, dict):
            username = as_text(author.get("username"))
            if username:
                identities.append(
                    Identity(kind=IdentityKind.handle, value=f"x:@{username.lstrip('@').lower()}")
                )
            customer_name = as_text(author.get("name"))
        else:
            extra["author_missing"] = True
        author_id = as_text(tweet.get("author_id"))
        if author_id:
            # the numeric id is stable across renames and known even when includes lack the user
            identities.append(Identity(kind=IdentityKind.handle, value=f"x:id:{author_id}"))
            extra["author_id"] = author_id
        if customer_name:
            identities.append(Identity(kind=IdentityKind.name, value=customer_name))

        parents: list[str] = []
        conversation = as_text(tweet.get("conversation_id"))
        if conversation and conversation != tweet_id:
            parents.append(f"x:{conversation}")
        replied_to: str | None = None
        for ref in _objects(tweet.get("referenced_tweets")):
            if ref.get("type") == "replied_to" and as_text(ref.get("id")):
                replied_to = f"x:{as_text(ref.get('id'))}"
            ref_id = as_text(ref.get("id"))
            if ref.get("type") in _PARENT_REFERENCES and ref_id and f"x:{ref_id}" not in parents:
                parents.append(f"x:{ref_id}")

        lang = as_text(tweet.get("lang"))
        if lang:
            extra["lang_hint"] = lang
        if conversation:
            extra["conversation_id"] = conversation
        occurred = optional_timestamp(tweet.get("created_at"), field=f"tweet {tweet_id} created_at")
        return ComplaintMessage(
            connector=self.name,
            instance=raw.instance,
            native_id=raw.native_id,
            channel=self.channel,
            occurred_at=occurred or raw.sort_time,
            text=tweet_text(tweet),
            customer_name=customer_name,
            identities=identities,
            thread_key=f"x:{tweet_id}",
            parent_keys=parents,
            reply_to_key=replied_to,
            extra=extra,
        )
