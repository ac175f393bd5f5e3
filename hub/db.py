"""Database engine, sessions and schema migrations.

``HUB_DATABASE_URL`` selects the store (default: ``sqlite:///hub.db`` in the
working folder). The schema is created and upgraded by alembic, never by
``create_all``, so every deployment follows the same migration history.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlmodel import Session, create_engine

__all__ = [
    "DEFAULT_DATABASE_URL",
    "database_url",
    "make_engine",
    "migrate",
    "refresh_statistics",
    "session_scope",
]

DEFAULT_DATABASE_URL = "sqlite:///hub.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url() -> str:
    """The configured database URL (``HUB_DATABASE_URL``)."""
    url = os.environ.get("HUB_DATABASE_URL", DEFAULT_DATABASE_URL)
    if url.startswith("postgresql://"):  # use psycopg 3, the driver we install
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str | None = None, *, upgrade: bool = True) -> Engine:
    """Build an engine for ``url`` (default from the environment); migrate it to head."""
    url = url or database_url()
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    if upgrade:
        migrate(engine)
    return engine


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema of ``engine``'s database to ``revision``."""
    command.upgrade(alembic_config(engine), revision)


def refresh_statistics(engine: Engine) -> None:
    """Refresh the query planner's statistics after bulk loads (and from housekeeping).

    Without them SQLite (which never gathers statistics by itself) and a PostgreSQL
    without autovacuum can pick a scan over an index for the matcher's lookups.
    """
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA analysis_limit=1000")
            conn.exec_driver_sql("ANALYZE")
        elif engine.dialect.name == "postgresql":
            conn.exec_driver_sql("ANALYZE")


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
