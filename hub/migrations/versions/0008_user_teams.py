"""user teams; trigram indexes for the queue's word search on PostgreSQL

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 14:30:00.000000

On PostgreSQL the pg_trgm extension is created (if the database user may) and GIN trigram
indexes on ``message.text`` and ``message.subject`` serve ``ILIKE '%word%'``. When the
extension cannot be created the indexes are skipped (logged); search then scans, as on SQLite.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("hub.migrations")

TRGM_INDEXES = {"ix_message_text_trgm": "text", "ix_message_subject_trgm": "subject"}


def _trigram_indexes() -> None:
    bind = op.get_bind()
    try:
        with bind.begin_nested():  # a savepoint: a refused CREATE EXTENSION must not abort the migration
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning(
            "pg_trgm could not be created (%s); the word search of the queue scans message texts",
            str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__,
        )
        return
    for name, column in TRGM_INDEXES.items():
        op.execute(f'CREATE INDEX IF NOT EXISTS {name} ON message USING gin ("{column}" gin_trgm_ops)')


def upgrade() -> None:
    with op.batch_alter_table("hub_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("teams", sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _trigram_indexes()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in TRGM_INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table("hub_user", schema=None) as batch_op:
        batch_op.drop_column("teams")
