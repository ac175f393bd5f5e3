"""The connector contract: what a source plugin must provide.

A connector is a thin subclass filling in class attributes and a few hooks,
like a Singer tap. Required hooks raise ``NotImplementedError``; optional ones
have safe defaults. Capabilities are data, not ``if`` chains.

Hooks used by ``hub import`` (this module) and live polling (later):

- :meth:`SourceConnector.split_capture`: one captured file (``.eml``,
  ``.mbox``, a JSON body or page) into :class:`~hub.models.RawItem`s, each with
  its native id. Raises :class:`~hub.errors.ParseError` if the file is unusable.
- :meth:`SourceConnector.parse`: a pure function ``RawItem -> ComplaintMessage``.
  Raises ``ParseError`` with a readable reason on bad input; the core quarantines.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from hub.models import Channel, ComplaintMessage, RawItem

__all__ = ["SourceConnector"]


class SourceConnector:
    """Base class of source connectors (e-mail, social, voicemail, courier)."""

    #: registry name, also the corpus folder name (``email``, ``x`` ...)
    name: ClassVar[str]
    #: channel of the messages it yields
    channel: ClassVar[Channel]
    #: file name endings ``hub import`` accepts for this connector
    capture_suffixes: ClassVar[tuple[str, ...]] = (".json",)
    #: what it can do, as data
    capabilities: ClassVar[frozenset[str]] = frozenset({"import"})

    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        """Split one captured file into raw items (one per message)."""
        raise NotImplementedError(f"connector {self.name!r} must implement split_capture")

    def parse(self, raw: RawItem) -> ComplaintMessage:
        """Turn a raw item into a message. Pure: no I/O, no clock."""
        raise NotImplementedError(f"connector {self.name!r} must implement parse")
