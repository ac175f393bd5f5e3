"""The unified complaint record: what every connector's raw item becomes.

These are plain pydantic models (the domain), kept apart from the store's
tables (``hub.tables``). Connectors produce :class:`RawItem` and
:class:`ComplaintMessage`; the core enriches messages (``hub.understand``),
matches them to a :class:`Case` and records :class:`CaseEvent`s.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "Attachment",
    "Case",
    "CaseEvent",
    "CaseStatus",
    "Category",
    "Channel",
    "ComplaintMessage",
    "CourierInfo",
    "CourierStatus",
    "Customer",
    "Identity",
    "IdentityKind",
    "NonActionable",
    "RawItem",
    "Severity",
    "content_hash",
    "utc",
]


def utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def content_hash(payload: bytes) -> str:
    """SHA-256 hex digest of a raw payload."""
    return hashlib.sha256(payload).hexdigest()


class Channel(StrEnum):
    """How the customer (or courier) reached us."""

    email = "email"
    mastodon = "mastodon"
    x = "x"
    voicemail = "voicemail"
    courier = "courier"


class Category(StrEnum):
    """Complaint taxonomy (firm, see ARCHITECTURE.md)."""

    product_quality = "product_quality"
    logistics = "logistics"
    payment_refund = "payment_refund"
    customer_service = "customer_service"
    promotion = "promotion"
    other = "other"


class Severity(StrEnum):
    severe = "severe"
    general = "general"


class CaseStatus(StrEnum):
    """Case lifecycle: 受理 → 调查 → 沟通 → 补救 → 记录归档."""

    new = "new"
    investigating = "investigating"
    contacting = "contacting"
    remedy = "remedy"
    closed = "closed"


class IdentityKind(StrEnum):
    email = "email"
    phone = "phone"
    handle = "handle"
    name = "name"


class NonActionable(StrEnum):
    """Why a stored message opens no case."""

    auto_reply = "auto_reply"
    bounce = "bounce"
    newsletter = "newsletter"
    spam = "spam"
    praise = "praise"
    robocall = "robocall"
    empty = "empty"
    routine_scan = "routine_scan"


class CourierStatus(StrEnum):
    """Courier states normalised across AfterShip, Kuaidi100 and later couriers."""

    pending = "pending"
    info_received = "info_received"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    available_for_pickup = "available_for_pickup"
    delivered = "delivered"
    failed_attempt = "failed_attempt"
    exception = "exception"
    returned = "returned"
    expired = "expired"
    unknown = "unknown"

    @property
    def is_problem(self) -> bool:
        """A state that deserves a case even when nobody complained."""
        return self in _PROBLEM_STATES


_PROBLEM_STATES = {
    CourierStatus.failed_attempt,
    CourierStatus.exception,
    CourierStatus.returned,
    CourierStatus.expired,
}


class RawItem(BaseModel):
    """One item exactly as an external system delivered it.

    ``(instance, native_id)`` is unique in the store: re-ingesting the same item
    changes nothing.
    """

    model_config = ConfigDict(frozen=True)

    connector: str
    instance: str
    native_id: str
    received_at: datetime
    occurred_at: datetime | None = None
    payload: bytes
    source: str | None = None  # file path or URL it came from, for operators

    @field_validator("received_at", "occurred_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return utc(value) if value is not None else None

    @property
    def content_hash(self) -> str:
        return content_hash(self.payload)

    @property
    def sort_time(self) -> datetime:
        """The item's own time when known, else when we received it."""
        return self.occurred_at or self.received_at


class Identity(BaseModel):
    """One way to recognise a customer: ``email:a@b.c``, ``phone:+86...``, ``handle:x:@name``."""

    model_config = ConfigDict(frozen=True)

    kind: IdentityKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.value}"


class Attachment(BaseModel):
    filename: str | None = None
    content_type: str
    size: int
    sha256: str


class CourierInfo(BaseModel):
    carrier: str | None = None
    tracking_no: str
    status: CourierStatus = CourierStatus.unknown
    detail: str | None = None  # the provider's own status words (subtag message, Kuaidi100 state)
    last_event: str | None = None
    last_event_at: datetime | None = None


class ComplaintMessage(BaseModel):
    """One message, normalised: the same shape whatever channel it came from.

    Connectors fill what their payload states (text, author identities, thread
    ids, structured order/tracking numbers, courier status, auto-reply flags);
    ``hub.understand`` then adds what is read from the text.
    """

    connector: str
    instance: str = ""
    native_id: str
    channel: Channel
    occurred_at: datetime
    subject: str | None = None
    text: str = ""
    language: str | None = None
    customer_name: str | None = None
    identities: list[Identity] = Field(default_factory=list)
    order_nos: list[str] = Field(default_factory=list)
    tracking_nos: list[str] = Field(default_factory=list)
    category: Category | None = None
    severity: Severity | None = None
    severity_reasons: list[str] = Field(default_factory=list)
    thread_key: str | None = None  # this message's own thread key, e.g. "email:<msgid>"
    parent_keys: list[str] = Field(default_factory=list)  # keys of messages it replies to / belongs with
    reply_to_key: str | None = None  # the key of the one message it directly answers, if any
    courier: CourierInfo | None = None
    actionable: bool = True
    non_actionable_reason: NonActionable | None = None
    attachments: list[Attachment] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return utc(value)

    def mark_not_actionable(self, reason: NonActionable) -> None:
        self.actionable = False
        self.non_actionable_reason = reason


class Customer(BaseModel):
    id: int | None = None
    name: str | None = None
    identities: list[Identity] = Field(default_factory=list)


class CaseEvent(BaseModel):
    """Something that happened to a case, in order (``sequence`` starts at 1)."""

    case_id: str
    sequence: int
    type: str
    occurred_at: datetime
    actor: str = "hub"
    data: dict[str, Any] = Field(default_factory=dict)


class Case(BaseModel):
    case_id: str
    status: CaseStatus = CaseStatus.new
    category: Category = Category.other
    severity: Severity = Severity.general
    created_at: datetime
    updated_at: datetime
    sla_due_at: datetime | None = None
    customer: Customer | None = None
    order_nos: list[str] = Field(default_factory=list)
    tracking_nos: list[str] = Field(default_factory=list)
