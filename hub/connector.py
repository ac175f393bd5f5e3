"""The connector contract: what a source plugin provides.

A connector is a thin subclass filling in class attributes and a few hooks,
like a Singer tap. Required hooks raise ``NotImplementedError``; optional ones
have safe defaults. Capabilities are data, not ``if`` chains.

Hooks:

- :attr:`SourceConnector.Config`: a pydantic model of the instance's
  configuration (secrets as ``SecretStr``); ``hub.yaml``'s ``config:`` block.
- :meth:`SourceConnector.check`: reach and authenticate; raise
  :class:`~hub.errors.CheckFailed` with a clear reason and hint.
- :meth:`SourceConnector.read`: yield :class:`Batch` es of raw items from a
  saved :class:`Cursor`; each batch carries the cursor that covers it, and the
  core commits the items and that cursor in one transaction.
- :meth:`SourceConnector.split_capture`: one captured file into raw items
  (``hub import``).
- :meth:`SourceConnector.parse`: a pure function ``RawItem -> ComplaintMessage``;
  raises :class:`~hub.errors.ParseError` with a readable reason on bad input.
- :meth:`SourceConnector.webhook`: verify a provider's delivery signature and
  turn the request into raw items (``webhook`` capability only).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, SecretStr

from hub.models import Channel, ComplaintMessage, RawItem

__all__ = [
    "Batch",
    "Capability",
    "ConnectorConfig",
    "Cursor",
    "ReadContext",
    "SourceConnector",
    "WebhookRequest",
    "secret_values",
]

#: per-partition cursor values (partition: mailbox folder, account, endpoint; "" when there is one)
Cursor = dict[str, str]


class Capability:
    """Names of what a connector can do (``SourceConnector.capabilities``)."""

    IMPORT = "import"  # split_capture + parse: `hub import`
    POLL = "poll"  # read: `hub poll`, scheduled polling
    WEBHOOK = "webhook"  # webhook: pushed deliveries with a verified signature
    IDLE = "idle"  # push notification of new items while connected (IMAP IDLE)
    TRACK = "track"  # polls the tracking numbers the core hands it (those open cases name)


class ConnectorConfig(BaseModel):
    """Base of connector configuration models: unknown keys are errors, secrets are ``SecretStr``."""

    model_config = ConfigDict(extra="forbid")

    #: seconds for every network call (connect and read)
    timeout: float = 30.0
    #: when the credentials (an OAuth token, an API key) stop working, if known: ops set it, and a
    #: connector that learns it (a token's ``expires_in``) may fill it during a read; ``hub status``
    #: warns ``alerts.credentials_expiry_days`` ahead
    credentials_expire_at: datetime | None = None


def secret_values(config: BaseModel) -> list[str]:
    """Every secret string in a config model (recursively), to scrub from logs and errors."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, SecretStr):
            if value.get_secret_value():
                found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name))
        elif isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    walk(config)
    return found


@dataclass
class Batch:
    """Raw items read from one partition, and the partition's cursor once they are stored."""

    items: list[RawItem]
    partition: str = ""
    cursor: str = ""


@dataclass
class ReadContext:
    """What the core gives a connector for one read: who it is, limits, and a logger."""

    instance: str
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("hub.connector"))
    #: stop after about this many items (a poll cycle's budget); None = no limit
    max_items: int | None = None
    #: IMAP IDLE and the like: wait up to this many seconds for new items before returning
    wait_seconds: float = 0.0
    #: ``track`` connectors: tracking numbers that open cases name (the core fills this)
    tracking_numbers: list[str] = field(default_factory=list)
    #: what the server says it holds, per partition (e.g. an IMAP folder's message count at
    #: SELECT), filled by the connector only when it is comparable with the items the hub stored
    #: (not when read mail is moved away); the core raises a health problem when it exceeds them
    observed: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookRequest:
    """A pushed delivery as received: the full URL called, headers (lower-case names) and raw body."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    received_at: datetime
    #: the connector instance the delivery is addressed to (stamped on the raw items)
    instance: str = "webhook"

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class SourceConnector:
    """Base class of source connectors (e-mail, social, voicemail, courier)."""

    #: registry name, also the corpus folder name (``email``, ``x`` ...)
    name: ClassVar[str]
    #: channel of the messages it yields
    channel: ClassVar[Channel]
    #: file name endings ``hub import`` accepts for this connector
    capture_suffixes: ClassVar[tuple[str, ...]] = (".json",)
    #: what it can do, as data (see :class:`Capability`)
    capabilities: ClassVar[frozenset[str]] = frozenset({Capability.IMPORT})
    #: the configuration model of an instance
    Config: ClassVar[type[ConnectorConfig]] = ConnectorConfig

    def split_capture(
        self, data: bytes, *, instance: str, received_at: datetime, source: str | None = None
    ) -> list[RawItem]:
        """Split one captured file into raw items (one per message)."""
        raise NotImplementedError(f"connector {self.name!r} must implement split_capture")

    def parse(self, raw: RawItem) -> ComplaintMessage:
        """Turn a raw item into a message. Pure: no I/O, no clock."""
        raise NotImplementedError(f"connector {self.name!r} must implement parse")

    def check(self, config: Any) -> None:
        """Reach the provider and authenticate; raise ``CheckFailed`` with a reason and a hint."""
        raise NotImplementedError(f"connector {self.name!r} cannot check a live source")

    def read(self, config: Any, cursor: Cursor, ctx: ReadContext) -> Iterator[Batch]:
        """Yield batches of new raw items after ``cursor``, each with the cursor that covers it."""
        raise NotImplementedError(f"connector {self.name!r} cannot poll")

    def webhook(self, config: Any, request: WebhookRequest) -> list[RawItem]:
        """Verify a pushed delivery's signature and return its raw items (``SignatureInvalid`` if forged)."""
        raise NotImplementedError(f"connector {self.name!r} receives no webhooks")

    def webhook_reply(self, accepted: int) -> tuple[int, bytes, str]:
        """The HTTP answer a provider expects after a delivery: (status, body, media type)."""
        return 200, f'{{"accepted": {accepted}}}'.encode(), "application/json"

    def configure(self, data: Mapping[str, Any]) -> ConnectorConfig:
        """Validate an instance's ``config:`` block against :attr:`Config`."""
        return self.Config.model_validate(dict(data))
