"""The store's tables (SQLModel). Schema changes go through alembic (``hub/migrations``).

Every key the matcher looks up is indexed: ``message_key(kind, value)`` for
thread ids, order and tracking numbers; ``customer_identity(kind, value)`` for
e-mail addresses, phones and handles.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, LargeBinary, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

__all__ = [
    "CaseEventRow",
    "CaseRow",
    "ConnectorHealthRow",
    "CursorRow",
    "LockRow",
    "CustomerIdentityRow",
    "CustomerRow",
    "MessageKeyRow",
    "MessageRow",
    "OutboxRow",
    "RawItemRow",
    "SinkLinkRow",
]


def _ts(**kw: Any) -> Any:
    return Field(sa_column=Column(DateTime(timezone=True), **kw))


def _json(**kw: Any) -> Any:
    return Field(default=None, sa_column=Column(JSON, **kw))


class RawItemRow(SQLModel, table=True):
    """An item exactly as delivered. ``status``: pending, processed, quarantined."""

    __tablename__ = "raw_item"
    __table_args__ = (UniqueConstraint("instance", "native_id", name="uq_raw_item_instance_native"),)

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(max_length=64)
    instance: str = Field(max_length=128)
    native_id: str = Field(max_length=512)
    received_at: datetime = _ts(nullable=False)
    occurred_at: datetime | None = _ts(nullable=True)
    content_hash: str = Field(max_length=64)
    size: int = 0
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    source: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="pending", max_length=16, index=True)
    error: str | None = Field(default=None, sa_column=Column(Text))
    attempts: int = 0


class CustomerRow(SQLModel, table=True):
    __tablename__ = "customer"

    id: int | None = Field(default=None, primary_key=True)
    name: str | None = Field(default=None, max_length=256)
    created_at: datetime = _ts(nullable=False)


class CustomerIdentityRow(SQLModel, table=True):
    """One identity (e-mail, phone, handle, name) of a customer; unique across customers."""

    __tablename__ = "customer_identity"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_customer_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    kind: str = Field(max_length=16)
    value: str = Field(max_length=320)
    first_seen_at: datetime = _ts(nullable=False)
    source_message_id: int | None = None


class CaseRow(SQLModel, table=True):
    __tablename__ = "case"

    id: int | None = Field(default=None, primary_key=True)
    status: str = Field(default="new", max_length=16, index=True)
    category: str = Field(default="other", max_length=32, index=True)
    severity: str = Field(default="general", max_length=16, index=True)
    customer_id: int | None = Field(default=None, foreign_key="customer.id", index=True)
    created_at: datetime = _ts(nullable=False)
    updated_at: datetime = _ts(nullable=False)
    last_message_at: datetime = _ts(nullable=False)
    sla_due_at: datetime | None = _ts(nullable=True)
    closed_at: datetime | None = _ts(nullable=True)
    contact_count: int = 0
    event_seq: int = 0
    merged_into_id: int | None = Field(default=None, foreign_key="case.id")
    split_from_id: int | None = Field(default=None, foreign_key="case.id")
    category_votes: dict[str, float] | None = _json()
    severity_reasons: list[str] | None = _json()

    @property
    def public_id(self) -> str:
        return f"C-{self.id:06d}"


class MessageRow(SQLModel, table=True):
    """A parsed message; ``case_id`` is null for messages that opened or joined no case."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_customer_time", "customer_id", "occurred_at"),)

    id: int | None = Field(default=None, primary_key=True)
    raw_item_id: int = Field(foreign_key="raw_item.id", unique=True)
    connector: str = Field(max_length=64)
    instance: str = Field(max_length=128)
    native_id: str = Field(max_length=512)
    channel: str = Field(max_length=16)
    occurred_at: datetime = _ts(nullable=False)
    subject: str | None = Field(default=None, sa_column=Column(Text))
    text: str = Field(default="", sa_column=Column(Text, nullable=False))
    language: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, max_length=32)
    severity: str | None = Field(default=None, max_length=16)
    actionable: bool = True
    non_actionable_reason: str | None = Field(default=None, max_length=32)
    customer_id: int | None = Field(default=None, foreign_key="customer.id")
    case_id: int | None = Field(default=None, foreign_key="case.id", index=True)
    matched_by: dict[str, Any] | None = _json()
    order_nos: list[str] | None = _json()
    tracking_nos: list[str] | None = _json()
    courier_status: str | None = Field(default=None, max_length=32)
    data: dict[str, Any] | None = _json()  # the full ComplaintMessage


class MessageKeyRow(SQLModel, table=True):
    """Lookup keys of a message: ``thread``, ``order``, ``tracking``."""

    __tablename__ = "message_key"
    __table_args__ = (Index("ix_message_key_lookup", "kind", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    kind: str = Field(max_length=16)
    value: str = Field(max_length=512)


class CaseEventRow(SQLModel, table=True):
    __tablename__ = "case_event"
    __table_args__ = (UniqueConstraint("case_id", "sequence", name="uq_case_event_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    sequence: int
    type: str = Field(max_length=32)
    occurred_at: datetime = _ts(nullable=False)
    actor: str = Field(default="hub", max_length=128)
    data: dict[str, Any] | None = _json()


class OutboxRow(SQLModel, table=True):
    """One delivery to one sink, written in the same transaction as the case change."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("sink", "event_id", name="uq_outbox_sink_event"),
        Index("ix_outbox_pending", "status", "sink", "case_id", "sequence"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sink: str = Field(max_length=128)
    case_id: int = Field(foreign_key="case.id")
    event_id: str = Field(max_length=64)
    type: str = Field(max_length=32)
    sequence: int
    created_at: datetime = _ts(nullable=False)
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    external_id: str | None = Field(default=None, max_length=256)
    delivered_at: datetime | None = _ts(nullable=True)


class CursorRow(SQLModel, table=True):
    """Where a connector instance stopped reading, per partition (folder, account)."""

    __tablename__ = "cursor"
    __table_args__ = (UniqueConstraint("instance", "partition", name="uq_cursor"),)

    id: int | None = Field(default=None, primary_key=True)
    instance: str = Field(max_length=128)
    partition: str = Field(default="", max_length=256)
    value: str = Field(default="", sa_column=Column(Text, nullable=False))
    updated_at: datetime = _ts(nullable=False)


class ConnectorHealthRow(SQLModel, table=True):
    """How each connector instance is doing: last success, last error, failures in a row."""

    __tablename__ = "connector_health"

    id: int | None = Field(default=None, primary_key=True)
    instance: str = Field(max_length=128, unique=True)
    connector: str = Field(max_length=64)
    healthy: bool = True
    reason: str | None = Field(default=None, sa_column=Column(Text))
    last_poll_at: datetime | None = _ts(nullable=True)
    last_success_at: datetime | None = _ts(nullable=True)
    last_error_at: datetime | None = _ts(nullable=True)
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    consecutive_failures: int = 0
    last_items: int = 0
    items_total: int = 0


class SinkLinkRow(SQLModel, table=True):
    """The target system's record id for a case, remembered after the first successful delivery."""

    __tablename__ = "sink_link"
    __table_args__ = (UniqueConstraint("sink", "case_id", name="uq_sink_link"),)

    id: int | None = Field(default=None, primary_key=True)
    sink: str = Field(max_length=128)
    case_id: int = Field(foreign_key="case.id")
    external_id: str = Field(max_length=256)
    linked_at: datetime = _ts(nullable=False)


class LockRow(SQLModel, table=True):
    """A named lock with an expiry: one poll per connector instance, one scheduler."""

    __tablename__ = "lock"

    name: str = Field(primary_key=True, max_length=200)
    owner: str = Field(max_length=200)
    expires_at: datetime = _ts(nullable=False)
