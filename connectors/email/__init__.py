"""E-mail connector: ``.eml``/mbox captures → raw items → :class:`~hub.models.ComplaintMessage`.

Pure parsing only (no IMAP here). Modules: ``capture`` (file splitting, native ids),
``charsets`` and ``headers`` (decoding), ``mime`` (body choice, attachments),
``html`` (HTML → text), ``quotes`` (quoted history, signatures), ``autoreply``
(auto-replies, bounces, bulk mail) and ``parse`` (the message itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from connectors.email.capture import split_capture as _split_capture
from connectors.email.parse import parse_email
from hub.connector import SourceConnector
from hub.models import Channel, ComplaintMessage, RawItem

__all__ = ["EmailConnector", "parse_email"]


class EmailConnector(SourceConnector):
    """RFC 5322 messages as IMAP ``BODY[]`` returns them, one per ``.eml`` or many per mbox."""

    name: ClassVar[str] = "email"
    channel: ClassVar[Channel] = Channel.email
    capture_suffixes: ClassVar[tuple[str, ...]] = (".eml", ".mbox")

    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        """One ``.eml`` → one raw item; an mbox → one per message. Raises ``ParseError`` if unusable."""
        return _split_capture(data, instance=instance, received_at=received_at, source=source)

    def parse(self, raw: RawItem) -> ComplaintMessage:
        """Raw e-mail → message (pure). Raises ``ParseError`` with a readable reason on bad input."""
        return parse_email(raw)
