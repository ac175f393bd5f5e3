"""Alembic environment: runs against the engine the hub passes in (``hub.db.migrate``)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import hub.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from hub.db import make_engine

        engine = make_engine(upgrade=False)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
