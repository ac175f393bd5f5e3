"""``hub quarantine list|show|retry``: items that could not be processed, with their reasons."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import col, select

from hub.cli.app import app, console, fail, open_config, open_engine
from hub.db import session_scope
from hub.export import iso
from hub.pipeline import IngestStats, Pipeline
from hub.tables import RawItemRow

quarantine_app = typer.Typer(
    help="Items that could not be parsed, kept with their reason.", no_args_is_help=True
)
app.add_typer(quarantine_app, name="quarantine")


@quarantine_app.command("list")
def list_quarantine(limit: Annotated[int, typer.Option(help="at most this many rows")] = 100) -> None:
    """Quarantined items, newest first."""
    engine = open_engine()
    with session_scope(engine) as s:
        rows = s.exec(
            select(RawItemRow)
            .where(RawItemRow.status == "quarantined")
            .order_by(col(RawItemRow.id).desc())
            .limit(limit)
        ).all()
        table = Table("id", "connector", "native id", "received", "size", "reason")
        for r in rows:
            table.add_row(
                str(r.id),
                r.instance,
                r.native_id[:40],
                (iso(r.received_at) or "")[:19],
                str(r.size),
                r.error or "",
            )
        console.print(table)
        console.print(f"{len(rows)} quarantined item(s)", highlight=False)
    engine.dispose()


@quarantine_app.command("show")
def show_quarantine(
    item_id: Annotated[int, typer.Argument(help="quarantine id (from `hub quarantine list`)")],
    raw: Annotated[bool, typer.Option("--raw", help="print the raw payload bytes")] = False,
) -> None:
    """One quarantined item: where it came from, why, and the start of its payload."""
    engine = open_engine()
    with session_scope(engine) as s:
        r = s.get(RawItemRow, item_id)
        if r is None or r.status != "quarantined":
            raise fail(f"no quarantined item {item_id}")
        console.print(f"id {r.id}  {r.connector}/{r.instance}  native id {r.native_id}", highlight=False)
        console.print(
            f"source {r.source}  received {iso(r.received_at)}  {r.size} bytes  sha256 {r.content_hash}",
            highlight=False,
        )
        console.print(f"reason: {r.error}", highlight=False, markup=False)
        if raw:
            import sys

            sys.stdout.buffer.write(r.payload)
        else:
            console.print(r.payload[:800].decode("utf-8", "replace"), highlight=False, markup=False)
    engine.dispose()


@quarantine_app.command("retry")
def retry_quarantine(
    item_id: Annotated[int | None, typer.Argument(help="one item; omit with --all")] = None,
    all_: Annotated[bool, typer.Option("--all", help="retry every quarantined item")] = False,
) -> None:
    """Parse quarantined items again (after a fix or a config change)."""
    if item_id is None and not all_:
        raise fail("give an item id or --all")
    engine = open_engine()
    pipeline = Pipeline(engine, open_config())
    stats = IngestStats()
    with session_scope(engine) as s:
        query = select(RawItemRow).where(RawItemRow.status == "quarantined")
        if item_id is not None:
            query = query.where(RawItemRow.id == item_id)
        rows = s.exec(query.order_by(col(RawItemRow.id))).all()
        if not rows:
            raise fail(f"no quarantined item {item_id}" if item_id is not None else "nothing in quarantine")
        for r in rows:
            if r.native_id.startswith("file:"):
                stats.quarantined += 1  # a whole unreadable file: re-import it once fixed
                continue
            pipeline.process(s, r, stats)
    engine.dispose()
    console.print(
        f"retried {len(rows)}: {stats.messages} processed, {stats.quarantined} still quarantined",
        highlight=False,
    )
