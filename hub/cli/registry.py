"""``hub connectors list``."""

from __future__ import annotations

import typer
from rich.table import Table

from hub.cli.app import app, console
from hub.registry import available, get_connector

connectors_app = typer.Typer(help="Installed connector plugins.", no_args_is_help=True)
app.add_typer(connectors_app, name="connectors")


@connectors_app.command("list")
def list_connectors() -> None:
    """Show installed connectors with their channel and capabilities."""
    table = Table("name", "channel", "capabilities", "file types")
    for name in available():
        conn = get_connector(name)
        table.add_row(
            name, conn.channel.value, ", ".join(sorted(conn.capabilities)), " ".join(conn.capture_suffixes)
        )
    console.print(table)
