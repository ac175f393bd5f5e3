"""Mastodon connector: mention notifications addressed to the shop's account.

Supports captures of ``GET /api/v1/notifications`` (``types[]=mention``): one
Notification object per file, or a JSON array of them as the endpoint returns
(non-mention notifications in an array are skipped). Follows the Mastodon
documentation ``methods/notifications.md``, ``entities/Notification.md`` and
``entities/Status.md`` (see PROVIDERS.md). Native id: ``status.id``.

Live polling (``read``) pages *forward* with ``min_id``, which Mastodon answers
with the notifications immediately after that id (newest-first within the
page), so nothing arriving meanwhile is skipped (``since_id`` would leave a gap
when more than ``limit`` arrived). The next ``min_id`` comes from the page's
``Link: <...min_id=N>; rel="prev"`` header, or is the newest id of the page;
reading stops at the first empty page. The cursor is the newest *notification*
id stored (the partition is ``""``).

First poll (empty cursor): ``min_id=0``, i.e. everything the instance still
holds, paged forward from the oldest mention and stored in ascending order, so
every batch's cursor covers exactly the items before it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import requests
from pydantic import Field, SecretStr

from hub.connector import Batch, Capability, ConnectorConfig, Cursor, ReadContext, SourceConnector
from hub.errors import AuthError, CheckFailed, ConnectorError, PaginationLoop, ParseError, TransientError
from hub.http import HttpClient, PageGuard, scrub
from hub.models import Channel, ComplaintMessage, Identity, IdentityKind, RawItem
from hub.sdk import (
    as_text,
    decode_json,
    html_to_text,
    json_bytes,
    optional_timestamp,
    parse_errors,
    require_mapping,
    strip_leading_mentions,
)

__all__ = ["MastodonConfig", "MastodonConnector", "http_client", "mastodon_handle"]

NOTIFICATIONS = "/api/v1/notifications"
VERIFY_CREDENTIALS = "/api/v1/accounts/verify_credentials"

#: how retries wait (``HttpClient``'s ``sleep``); tests replace it to run without real pauses
sleep: Callable[[float], None] = time.sleep


class MastodonConfig(ConnectorConfig):
    """One Mastodon account: its instance and a user token with scope ``read:notifications``."""

    #: the instance, e.g. ``https://mastodon.social``
    base_url: str = Field(pattern=r"^https?://[^/?#\s]+(/[^?#\s]*)?$")
    #: user token (scopes ``read:notifications``, and ``read:accounts`` or ``profile`` for ``check``)
    access_token: SecretStr = Field(min_length=1)
    #: notifications per request (Mastodon's maximum is 80)
    limit: int = Field(default=40, ge=1, le=80)


def http_client(config: MastodonConfig, *, attempts: int = 5) -> HttpClient:
    """The HTTP client for one instance: bearer auth, timeouts, retries, the token scrubbed from errors."""
    return HttpClient.bearer(
        config.base_url,
        config.access_token.get_secret_value(),
        timeout=config.timeout,
        attempts=attempts,
        sleep=sleep,
    )


def _host(config: MastodonConfig) -> str:
    return urlparse(config.base_url).netloc or config.base_url


def _id_order(value: str) -> tuple[int, int, str]:
    """Sort key for Mastodon ids: numeric strings compare as numbers (``"99" < "100"``)."""
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def _link_min_id(response: requests.Response) -> str | None:
    """``min_id`` of the ``Link: <...>; rel="prev"`` header, if the page has one."""
    prev = response.links.get("prev")
    if not prev or not prev.get("url"):
        return None
    values = parse_qs(urlparse(prev["url"]).query).get("min_id")
    return values[0] if values and values[0] else None


def mastodon_handle(account: dict[str, Any]) -> str | None:
    """``user@host`` (lower case) for an account; a local ``acct`` gets the host of its URL."""
    acct = as_text(account.get("acct")) or as_text(account.get("username"))
    if acct is None:
        return None
    acct = acct.lstrip("@")
    if "@" not in acct:
        host = urlparse(as_text(account.get("url")) or as_text(account.get("uri")) or "").hostname
        if host:
            acct = f"{acct}@{host}"
    return acct.lower()


def _status_of(notification: dict[str, Any]) -> dict[str, Any]:
    status = notification.get("status")
    if not isinstance(status, dict) or as_text(status.get("id")) is None:
        raise ParseError("not a Mastodon notification: no status.id")
    return status


class MastodonConnector(SourceConnector):
    """Mentions of the shop on Mastodon, one message per status."""

    name: ClassVar[str] = "mastodon"
    channel: ClassVar[Channel] = Channel.mastodon
    capabilities: ClassVar[frozenset[str]] = frozenset({Capability.IMPORT, Capability.POLL})
    Config: ClassVar[type[ConnectorConfig]] = MastodonConfig

    # -- live source -----------------------------------------------------------------------
    def check(self, config: MastodonConfig) -> None:
        """The token is accepted (``verify_credentials``) and may read mention notifications."""
        client = http_client(config, attempts=2)
        host = _host(config)
        try:
            client.get_json(VERIFY_CREDENTIALS)
            client.get_json(NOTIFICATIONS, params=[("types[]", "mention"), ("limit", "1")])
        except AuthError as exc:
            if "-> 403" in str(exc):
                raise CheckFailed(
                    f"access token lacks a scope on {host}: {exc}",
                    "give the application the scopes read:notifications and read:accounts (or profile)",
                ) from None
            raise CheckFailed(
                f"access token refused by {host}: {exc}",
                "create a new access token (Preferences > Development) with scope read:notifications "
                "and set access_token",
            ) from None
        except ConnectorError as exc:
            raise CheckFailed(
                f"cannot reach the Mastodon API at {host}: {exc}",
                "check base_url (the instance, e.g. https://mastodon.social) and the network",
            ) from None

    def read(self, config: MastodonConfig, cursor: Cursor, ctx: ReadContext) -> Iterator[Batch]:
        """Mentions after ``cursor[""]`` (a notification id), one batch per page, oldest first."""
        client = http_client(config)
        host = _host(config)
        min_id = cursor.get("") or "0"
        guard = PageGuard(f"mastodon {host} notifications")
        guard.check(min_id)
        remaining = ctx.max_items
        while remaining is None or remaining > 0:
            limit = config.limit if remaining is None else min(config.limit, remaining)
            params = [("types[]", "mention"), ("limit", str(limit)), ("min_id", min_id)]
            response = client.request("GET", NOTIFICATIONS, params=params)
            page = self._page(response, client.secrets)
            if not page:
                break
            received_at = datetime.now(UTC)
            source = f"{config.base_url.rstrip('/')}{NOTIFICATIONS}"
            items: list[RawItem] = []
            for notification in sorted(page, key=lambda n: _id_order(str(n["id"]))):
                if notification.get("type", "mention") != "mention":
                    continue
                try:
                    items.extend(
                        self.split_capture(
                            json_bytes(notification),
                            instance=ctx.instance,
                            received_at=received_at,
                            source=source,
                        )
                    )
                except ParseError as exc:  # nothing to store without a status id
                    ctx.log.warning(
                        "mastodon %s: skipping notification %s: %s", host, notification["id"], exc
                    )
            newest = max((str(n["id"]) for n in page), key=_id_order)
            if _id_order(newest) <= _id_order(min_id):  # never move the cursor backwards
                msg = (
                    f"mastodon {host} notifications: asked for ids after {min_id}, got a page "
                    f"ending at {newest}; stopping instead of looping"
                )
                raise PaginationLoop(msg)
            ctx.log.debug("mastodon %s: %d notification(s) after min_id=%s", host, len(page), min_id)
            yield Batch(items, partition="", cursor=newest)
            if remaining is not None:
                remaining -= len(page)
            next_min = _link_min_id(response) or newest
            if _id_order(next_min) > _id_order(newest):  # a link past the page would leave a gap
                next_min = newest
            if _id_order(next_min) <= _id_order(min_id):
                msg = (
                    f"mastodon {host} notifications: the page after min_id={min_id} points back to "
                    f"min_id={next_min}; stopping instead of looping"
                )
                raise PaginationLoop(msg)
            guard.check(next_min)
            min_id = next_min

    @staticmethod
    def _page(response: requests.Response, secrets: list[str]) -> list[dict[str, Any]]:
        """The notifications of a page; a malformed page is a transient error (the cursor stays put)."""
        where = f"GET {scrub(response.url, secrets)}"
        try:
            document = response.json()
        except ValueError:
            excerpt = scrub(response.text[:200].strip() or "(empty body)", secrets)
            raise TransientError(f"{where}: response is not JSON: {excerpt}") from None
        if not isinstance(document, list):
            msg = f"{where}: expected an array of notifications, got {type(document).__name__}"
            raise TransientError(msg)
        for index, entry in enumerate(document):
            if not isinstance(entry, dict) or as_text(entry.get("id")) is None:
                raise TransientError(f"{where}: notification #{index} is not an object with an id")
        return document

    # -- captures --------------------------------------------------------------------------

    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        """One raw item per mention notification (the file is one object or an array)."""
        document = decode_json(data)
        if isinstance(document, list):
            pairs = []
            for index, entry in enumerate(document):
                notification = require_mapping(entry, f"notification #{index}")
                if notification.get("type", "mention") != "mention":
                    continue
                pairs.append((notification, json_bytes(notification)))
        else:
            notification = require_mapping(document, "Mastodon notification")
            kind = notification.get("type", "mention")
            if kind != "mention":
                raise ParseError(f"not a Mastodon mention: notification type {kind!r}")
            pairs = [(notification, data)]
        items = []
        for notification, payload in pairs:
            status = _status_of(notification)
            items.append(
                RawItem(
                    connector=self.name,
                    instance=instance,
                    native_id=str(status["id"]).strip(),
                    received_at=received_at,
                    occurred_at=optional_timestamp(status.get("created_at"), field="status.created_at"),
                    payload=payload,
                    source=source,
                )
            )
        return items

    def parse(self, raw: RawItem) -> ComplaintMessage:
        """Status HTML to text, author handle and name, thread keys, media in ``extra``."""
        notification = require_mapping(decode_json(raw.payload), "Mastodon notification")
        status = _status_of(notification)
        with parse_errors(f"mastodon status {status.get('id')}"):
            return self._parse(raw, notification, status)

    def _parse(self, raw: RawItem, notification: dict[str, Any], status: dict[str, Any]) -> ComplaintMessage:
        status_id = str(status["id"]).strip()
        account = status.get("account") if isinstance(status.get("account"), dict) else None
        account = account or require_mapping(notification.get("account"), "notification.account")

        identities: list[Identity] = []
        handle = mastodon_handle(account)
        if handle:
            identities.append(Identity(kind=IdentityKind.handle, value=f"mastodon:@{handle}"))
        display_name = as_text(account.get("display_name"))
        if display_name:
            identities.append(Identity(kind=IdentityKind.name, value=display_name))

        content = status.get("content")
        text = strip_leading_mentions(html_to_text(content if isinstance(content, str) else ""))

        extra: dict[str, Any] = {}
        for key, field in (("lang_hint", "language"), ("url", "url"), ("uri", "uri")):
            value = as_text(status.get(field))
            if value:
                extra[key] = value
        visibility = as_text(status.get("visibility"))
        if visibility:
            extra["visibility"] = visibility
            if visibility == "direct":
                extra["direct_message"] = True
        if as_text(notification.get("id")):
            extra["notification_id"] = str(notification["id"])
        media = [_media_entry(m) for m in status.get("media_attachments") or [] if isinstance(m, dict)]
        if media:
            extra["media"] = media

        in_reply_to = as_text(status.get("in_reply_to_id"))
        occurred = optional_timestamp(status.get("created_at"), field="status.created_at")
        return ComplaintMessage(
            connector=self.name,
            instance=raw.instance,
            native_id=raw.native_id,
            channel=self.channel,
            occurred_at=occurred or raw.sort_time,
            subject=as_text(status.get("spoiler_text")),
            text=text,
            customer_name=display_name,
            identities=identities,
            thread_key=f"mastodon:{status_id}",
            parent_keys=[f"mastodon:{in_reply_to}"] if in_reply_to else [],
            reply_to_key=f"mastodon:{in_reply_to}" if in_reply_to else None,
            extra=extra,
        )


def _media_entry(media: dict[str, Any]) -> dict[str, Any]:
    """What we know of a media attachment without downloading it."""
    url = as_text(media.get("url")) or as_text(media.get("remote_url"))
    filename = PurePosixPath(urlparse(url).path).name if url else None
    return {
        "type": as_text(media.get("type")),
        "url": url,
        "filename": filename or None,
        "description": as_text(media.get("description")),
    }
