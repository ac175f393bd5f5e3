"""``hub db upgrade|current``: schema migrations (alembic) of the configured store."""

from __future__ import annotations

import typer
from alembic.runtime.migration import MigrationContext

from hub.cli.app import app, console
from hub.db import make_engine

db_app = typer.Typer(help="The store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def upgrade() -> None:
    """Create the schema or upgrade it to the newest migration (run once per release)."""
    engine = make_engine()
    with engine.connect() as conn:
        console.print(f"schema at revision {MigrationContext.configure(conn).get_current_revision()}")
    engine.dispose()


@db_app.command("current")
def current() -> None:
    """Print the schema's revision without changing anything."""
    engine = make_engine(upgrade=False)
    with engine.connect() as conn:
        console.print(
            MigrationContext.configure(conn).get_current_revision() or "empty (run `hub db upgrade`)"
        )
    engine.dispose()
