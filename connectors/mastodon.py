"""Mastodon connector: mention notifications addressed to the shop's account.

Supports captures of ``GET /api/v1/notifications`` (``types[]=mention``): one
Notification object per file, or a JSON array of them as the endpoint returns
(non-mention notifications in an array are skipped). Follows the Mastodon
documentation ``methods/notifications.md``, ``entities/Notification.md`` and
``entities/Status.md`` (see PROVIDERS.md). Native id: ``status.id``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, ClassVar
from urllib.parse import urlparse

from hub.connector import SourceConnector
from hub.errors import ParseError
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

__all__ = ["MastodonConnector", "mastodon_handle"]


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
