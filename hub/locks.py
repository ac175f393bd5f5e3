"""Named locks with an expiry, kept in the database (works for SQLite and PostgreSQL alike).

Used so that polls of one connector instance never overlap however many workers
run, that one outbox sink is delivered by one worker at a time, and that only
one scheduler (``hub beat``) runs. A lock whose holder died expires by itself.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from hub.tables import LockRow

__all__ = ["Lease", "acquire", "held", "owner_id", "release"]


def owner_id() -> str:
    """A process-unique owner name: host, pid and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def acquire(engine: Engine, name: str, owner: str, ttl: float) -> bool:
    """Take (or renew, if ``owner`` holds it) the lock ``name`` for ``ttl`` seconds."""
    now = datetime.now(UTC)
    until = now + timedelta(seconds=ttl)
    with Session(engine) as session:
        result = session.exec(
            update(LockRow)
            .where(col(LockRow.name) == name, or_(col(LockRow.owner) == owner, col(LockRow.expires_at) < now))
            .values(owner=owner, expires_at=until)
        )
        if result.rowcount:
            session.commit()
            return True
        session.add(LockRow(name=name, owner=owner, expires_at=until))
        try:
            session.commit()
        except IntegrityError:  # someone else holds it
            session.rollback()
            return False
        return True


def release(engine: Engine, name: str, owner: str) -> None:
    with Session(engine) as session:
        session.exec(delete(LockRow).where(col(LockRow.name) == name, col(LockRow.owner) == owner))
        session.commit()


class Lease:
    """A held lock; :meth:`renew` extends it (False if it was lost, e.g. after expiring)."""

    def __init__(self, engine: Engine, name: str, owner: str, ttl: float) -> None:
        self.engine, self.name, self.owner, self.ttl = engine, name, owner, ttl

    def renew(self) -> bool:
        return acquire(self.engine, self.name, self.owner, self.ttl)


@contextmanager
def held(engine: Engine, name: str, ttl: float, owner: str | None = None) -> Iterator[Lease | None]:
    """``with held(engine, "poll:inbox", 60) as lease:`` — ``lease`` is None when someone else has it.

    Keep the TTL short and call ``lease.renew()`` as work progresses: a holder that dies
    (``kill -9``) then blocks others for at most one TTL.
    """
    me = owner or owner_id()
    got = acquire(engine, name, me, ttl)
    try:
        yield Lease(engine, name, me, ttl) if got else None
    finally:
        if got:
            release(engine, name, me)
