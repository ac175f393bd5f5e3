"""X (Twitter) connector: mentions of the shop's account.

Supports captures of X API v2 ``GET /2/users/{id}/mentions`` pages (``data[]``,
``includes.users[]``, ``meta``), following the official OpenAPI spec
(xdevplatform/xdk ``latest-openapi.json``, operation ``getUsersMentions``; see
PROVIDERS.md). A page becomes one raw item per tweet; its payload is
``{"tweet", "author", "includes"}`` so each item parses on its own.
Native id: the tweet ``id``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from hub.connector import SourceConnector
from hub.errors import ParseError
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

__all__ = ["XConnector", "tweet_text"]

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
