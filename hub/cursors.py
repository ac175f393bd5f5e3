"""Cursor state, kept by the core per connector instance and partition.

Connectors only say what their cursor is (an opaque string per partition:
``"<uidvalidity>:<uid>"`` for an IMAP folder, a ``since_id`` for X). The core
saves it in the same transaction as the raw items it covers, so a crash between
fetch and commit re-reads those items, and re-ingesting them changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from hub.connector import Cursor
from hub.tables import CursorRow

__all__ = ["load_cursor", "reset_cursor", "save_cursor"]


def load_cursor(session: Session, instance: str) -> Cursor:
    """Every partition's saved value for ``instance`` (empty for a new instance)."""
    rows = session.exec(select(CursorRow).where(CursorRow.instance == instance)).all()
    return {r.partition: r.value for r in rows}


def save_cursor(session: Session, instance: str, partition: str, value: str) -> None:
    """Set one partition's cursor (in the caller's transaction)."""
    row = session.exec(
        select(CursorRow).where(CursorRow.instance == instance, CursorRow.partition == partition)
    ).first()
    now = datetime.now(UTC)
    if row is None:
        session.add(CursorRow(instance=instance, partition=partition, value=value, updated_at=now))
    elif row.value != value:
        row.value, row.updated_at = value, now
        session.add(row)


def reset_cursor(session: Session, instance: str) -> int:
    """Forget where ``instance`` stopped (the next poll re-reads; duplicates are ignored)."""
    rows = session.exec(select(CursorRow).where(CursorRow.instance == instance)).all()
    for row in rows:
        session.delete(row)
    return len(rows)
