"""queue: users, API tokens, web sessions, case work state, notes, transitions, resolutions, corrections, audit

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 13:33:36.195242
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def _str(n: int) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=n)


def _case_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["case_id"], ["case.id"], name=f"fk_{table}_case_id")


def upgrade() -> None:
    op.create_table(
        "hub_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _str(64), nullable=False),
        sa.Column("role", _str(16), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_login_at", _TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hub_user"),
        sa.UniqueConstraint("name", name="uq_hub_user_name"),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _str(64), nullable=False),
        sa.Column("prefix", _str(16), nullable=False),
        sa.Column("label", _str(128), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_used_at", _TS, nullable=True),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["hub_user.id"], name="fk_api_token_user_id"),
        sa.PrimaryKeyConstraint("id", name="pk_api_token"),
        sa.UniqueConstraint("token_hash", name="uq_api_token_hash"),
    )
    op.create_index("ix_api_token_user_id", "api_token", ["user_id"])
    op.create_table(
        "web_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _str(64), nullable=False),
        sa.Column("csrf_token", _str(64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["hub_user.id"], name="fk_web_session_user_id"),
        sa.PrimaryKeyConstraint("id", name="pk_web_session"),
        sa.UniqueConstraint("token_hash", name="uq_web_session_hash"),
    )
    op.create_index("ix_web_session_user_id", "web_session", ["user_id"])
    op.create_table(
        "case_work",
        sa.Column("case_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", _TS, nullable=True),
        sa.Column("sla_breached_at", _TS, nullable=True),
        sa.Column("sla_breached_due_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["assignee_id"], ["hub_user.id"], name="fk_case_work_assignee_id"),
        _case_fk("case_work"),
        sa.PrimaryKeyConstraint("case_id", name="pk_case_work"),
    )
    op.create_index("ix_case_work_assignee_id", "case_work", ["assignee_id"])
    op.create_table(
        "case_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("author", _str(128), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _case_fk("case_note"),
        sa.PrimaryKeyConstraint("id", name="pk_case_note"),
    )
    op.create_index("ix_case_note_case_id", "case_note", ["case_id"])
    op.create_table(
        "case_transition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_status", _str(16), nullable=False),
        sa.Column("to_status", _str(16), nullable=False),
        sa.Column("actor", _str(128), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _case_fk("case_transition"),
        sa.PrimaryKeyConstraint("id", name="pk_case_transition"),
    )
    op.create_index("ix_case_transition_case_id", "case_transition", ["case_id"])
    op.create_table(
        "case_resolution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("measures", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("customer_feedback", sa.Text(), nullable=True),
        sa.Column("closed_by", _str(128), nullable=False),
        sa.Column("closed_at", _TS, nullable=False),
        sa.Column("handling_seconds", sa.Float(), nullable=True),
        _case_fk("case_resolution"),
        sa.PrimaryKeyConstraint("id", name="pk_case_resolution"),
    )
    op.create_index("ix_case_resolution_case_id", "case_resolution", ["case_id"])
    op.create_table(
        "case_correction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("field", _str(16), nullable=False),
        sa.Column("old", _str(32), nullable=False),
        sa.Column("new", _str(32), nullable=False),
        sa.Column("actor", _str(128), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _case_fk("case_correction"),
        sa.PrimaryKeyConstraint("id", name="pk_case_correction"),
    )
    op.create_index("ix_case_correction_case_id", "case_correction", ["case_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("actor", _str(128), nullable=False),
        sa.Column("action", _str(64), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        _case_fk("audit_log"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_case", "audit_log", ["case_id", "at"])
    # the queue: open cases by time left; cases with a message on a channel
    op.create_index("ix_case_status_due", "case", ["status", "sla_due_at"])
    op.create_index("ix_message_channel_case", "message", ["channel", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_message_channel_case", table_name="message")
    op.drop_index("ix_case_status_due", table_name="case")
    for table in (
        "audit_log",
        "case_correction",
        "case_resolution",
        "case_transition",
        "case_note",
        "case_work",
        "web_session",
        "api_token",
        "hub_user",
    ):
        op.drop_table(table)
