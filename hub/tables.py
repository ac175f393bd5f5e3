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
    "ApiTokenRow",
    "AuditRow",
    "CaseCorrectionRow",
    "CaseEventRow",
    "CaseNoteRow",
    "CaseResolutionRow",
    "CaseRow",
    "CaseTransitionRow",
    "CaseWorkRow",
    "ConnectorHealthRow",
    "CursorRow",
    "CustomerIdentityRow",
    "CustomerRow",
    "LockRow",
    "MessageKeyRow",
    "MessageRow",
    "OutboxRow",
    "RawItemRow",
    "SinkLinkRow",
    "UserRow",
    "WebSessionRow",
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
    #: after the last successful poll: what the server said it holds, per partition (the
    #: connector's ``ReadContext.observed``; None when it reported nothing) ...
    observed: dict[str, int] | None = _json(nullable=True)
    #: ... and how many raw items the hub held for the instance then
    fetched: int | None = None
    #: credentials expiry a connector learned during its last poll
    credentials_expire_at: datetime | None = _ts(nullable=True)


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


# --------------------------------------------------------------------------- the queue (issue 8)


class UserRow(SQLModel, table=True):
    """A person (or system) using the queue. ``role``: agent, ops or admin; passwords as argon2 hashes."""

    __tablename__ = "hub_user"
    __table_args__ = (UniqueConstraint("name", name="uq_hub_user_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64)
    role: str = Field(default="agent", max_length=16)
    password_hash: str | None = Field(default=None, sa_column=Column(Text))
    disabled: bool = False
    created_at: datetime = _ts(nullable=False)
    last_login_at: datetime | None = _ts(nullable=True)
    #: the teams (``teams:`` in the configuration) an agent works for
    teams: list[str] | None = _json()


class ApiTokenRow(SQLModel, table=True):
    """An API token for systems (``Authorization: Bearer``); only its SHA-256 is stored."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_api_token_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="hub_user.id", index=True)
    token_hash: str = Field(max_length=64)
    prefix: str = Field(max_length=16)
    label: str | None = Field(default=None, max_length=128)
    created_at: datetime = _ts(nullable=False)
    last_used_at: datetime | None = _ts(nullable=True)
    revoked_at: datetime | None = _ts(nullable=True)


class WebSessionRow(SQLModel, table=True):
    """A signed-in browser: the cookie holds a random token, the store its SHA-256 and the CSRF token."""

    __tablename__ = "web_session"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_web_session_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="hub_user.id", index=True)
    token_hash: str = Field(max_length=64)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = _ts(nullable=False)
    expires_at: datetime = _ts(nullable=False)
    last_seen_at: datetime = _ts(nullable=False)


class CaseWorkRow(SQLModel, table=True):
    """Work state of a case beside its labels: who has it, and when its SLA breach was flagged."""

    __tablename__ = "case_work"

    case_id: int = Field(foreign_key="case.id", primary_key=True, sa_column_kwargs={"autoincrement": False})
    assignee_id: int | None = Field(default=None, foreign_key="hub_user.id", index=True)
    assigned_at: datetime | None = _ts(nullable=True)
    sla_breached_at: datetime | None = _ts(nullable=True)
    sla_breached_due_at: datetime | None = _ts(nullable=True)


class CaseNoteRow(SQLModel, table=True):
    """An internal note on a case (never sent downstream)."""

    __tablename__ = "case_note"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    author: str = Field(max_length=128)
    created_at: datetime = _ts(nullable=False)
    text: str = Field(sa_column=Column(Text, nullable=False))


class CaseTransitionRow(SQLModel, table=True):
    """One status change of a case along the lifecycle, with who and when."""

    __tablename__ = "case_transition"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    from_status: str = Field(max_length=16)
    to_status: str = Field(max_length=16)
    actor: str = Field(max_length=128)
    at: datetime = _ts(nullable=False)
    comment: str | None = Field(default=None, sa_column=Column(Text))


class CaseResolutionRow(SQLModel, table=True):
    """The record written when a case is closed: measures taken, result, customer feedback."""

    __tablename__ = "case_resolution"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    measures: str = Field(sa_column=Column(Text, nullable=False))
    result: str = Field(sa_column=Column(Text, nullable=False))
    customer_feedback: str | None = Field(default=None, sa_column=Column(Text))
    closed_by: str = Field(max_length=128)
    closed_at: datetime = _ts(nullable=False)
    handling_seconds: float | None = None


class CaseCorrectionRow(SQLModel, table=True):
    """An agent's correction of a case's category or severity (the classifier's value kept as ``old``)."""

    __tablename__ = "case_correction"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="case.id", index=True)
    field: str = Field(max_length=16)
    old: str = Field(max_length=32)
    new: str = Field(max_length=32)
    actor: str = Field(max_length=128)
    at: datetime = _ts(nullable=False)
    reason: str | None = Field(default=None, sa_column=Column(Text))


class AuditRow(SQLModel, table=True):
    """Who did what, when: every action through the API, the web UI and the user CLI."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_case", "case_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _ts(nullable=False)
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    case_id: int | None = Field(default=None, foreign_key="case.id")
    detail: dict[str, Any] | None = _json()


#: the queue lists open cases by time left; this index serves that order (and the overdue filter)
Index("ix_case_status_due", CaseRow.__table__.c.status, CaseRow.__table__.c.sla_due_at)  # type: ignore[attr-defined]
#: the queue's channel filter (cases with a message on a channel)
Index("ix_message_channel_case", MessageRow.__table__.c.channel, MessageRow.__table__.c.case_id)  # type: ignore[attr-defined]
