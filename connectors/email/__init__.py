"""E-mail connector: IMAP mailboxes and ``.eml``/mbox captures → :class:`~hub.models.ComplaintMessage`.

Live source: ``imap`` (config, ``check``, ``read`` by UID with IDLE) over
``imap_client`` (connection, TLS, login, error classes).
Parsing, pure: ``capture`` (file splitting, native ids),
``charsets`` and ``headers`` (decoding), ``mime`` (body choice, attachments),
``html`` (HTML → text), ``quotes`` (quoted history, signatures), ``autoreply``
(auto-replies, bounces, bulk mail) and ``parse`` (the message itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import ClassVar

from connectors.email import imap
from connectors.email.capture import split_capture as _split_capture
from connectors.email.imap import ImapConfig
from connectors.email.parse import parse_email
from hub.connector import Batch, Capability, ConnectorConfig, Cursor, ReadContext, SourceConnector
from hub.errors import ParseError
from hub.models import Channel, ComplaintMessage, RawItem

__all__ = ["EmailConnector", "ImapConfig", "parse_email"]


class EmailConnector(SourceConnector):
    """RFC 5322 messages as IMAP ``BODY[]`` returns them, one per ``.eml`` or many per mbox."""

    name: ClassVar[str] = "email"
    channel: ClassVar[Channel] = Channel.email
    capture_suffixes: ClassVar[tuple[str, ...]] = (".eml", ".mbox")
    capabilities: ClassVar[frozenset[str]] = frozenset({Capability.IMPORT, Capability.POLL, Capability.IDLE})
    Config: ClassVar[type[ConnectorConfig]] = ImapConfig

    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        """One ``.eml`` → one raw item; an mbox → one per message. Raises ``ParseError`` if unusable."""
        return _split_capture(data, instance=instance, received_at=received_at, source=source)

    def parse(self, raw: RawItem) -> ComplaintMessage:
        """Raw e-mail → message (pure). Raises ``ParseError`` with a readable reason on bad input,
        and for a message over the IMAP size cap, of which only the header was fetched.
        """
        reason = imap.truncated_reason(raw.payload)
        if reason is not None:
            raise ParseError(reason)
        return parse_email(raw)

    def check(self, config: ImapConfig) -> None:
        """Connect, log in and find every folder (``CheckFailed`` with a reason and a hint)."""
        imap.check(config)

    def read(self, config: ImapConfig, cursor: Cursor, ctx: ReadContext) -> Iterator[Batch]:
        """New mail in each folder after ``cursor`` (partition = folder), batch by batch."""
        return imap.read(config, cursor, ctx)
