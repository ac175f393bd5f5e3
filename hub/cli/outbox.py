"""``hub outbox list|retry|replay|flush``: downstream deliveries and dead letters."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import col, select

from hub.cases import CaseService, public_id
from hub.cli.app import app, console, fail, open_config, open_engine, session
from hub.cli.cases import parse_case_id
from hub.cli.progress import track
from hub.db import session_scope
from hub.export import iso
from hub.outbox import Outbox
from hub.tables import CaseRow, OutboxRow

outbox_app = typer.Typer(help="Deliveries to downstream systems (CRM, ERP, webhooks).", no_args_is_help=True)
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("list")
def list_outbox(
    status: Annotated[
        str | None, typer.Option(help="pending, delivered or dead (default: not delivered)")
    ] = None,
    sink: Annotated[str | None, typer.Option(help="only this sink")] = None,
    limit: Annotated[int, typer.Option(help="at most this many rows")] = 100,
) -> None:
    """Outbox rows, oldest first, with attempts and the last error."""
    with session() as s:
        query = select(OutboxRow)
        query = (
            query.where(OutboxRow.status == status)
            if status
            else query.where(OutboxRow.status != "delivered")
        )
        if sink:
            query = query.where(OutboxRow.sink == sink)
        rows = s.exec(query.order_by(col(OutboxRow.id)).limit(limit)).all()
        table = Table("id", "sink", "case", "seq", "type", "status", "tries", "next try", "last error")
        for r in rows:
            table.add_row(
                str(r.id),
                r.sink,
                public_id(r.case_id),
                str(r.sequence),
                r.type,
                r.status,
                str(r.attempts),
                (iso(r.next_attempt_at) or "-")[:19],
                (r.last_error or "")[:80],
            )
        console.print(table)
        console.print(f"{len(rows)} row(s)", highlight=False)


@outbox_app.command("retry")
def retry_outbox(
    outbox_id: Annotated[int | None, typer.Argument(help="one dead row; omit with --all")] = None,
    all_: Annotated[bool, typer.Option("--all", help="every dead row")] = False,
) -> None:
    """Put dead-lettered rows back in the queue (then `hub outbox flush` or the worker delivers them)."""
    if outbox_id is None and not all_:
        raise fail("give an outbox id or --all")
    engine = open_engine()
    try:
        outbox = Outbox(engine, open_config())
        if outbox_id is not None:
            n = outbox.retry(outbox_id)
        else:  # row by row, to show progress (each row back in the queue as soon as it is done)
            with session() as s:
                ids = list(s.exec(select(OutboxRow.id).where(OutboxRow.status == "dead")).all())
            every = max(1, len(ids) // 20)
            n = sum(outbox.retry(i) for i in track(ids, total=len(ids), label="retrying", every=every))
    finally:
        engine.dispose()
    if n == 0:
        raise fail(f"no dead row {outbox_id}" if outbox_id is not None else "no dead rows")
    console.print(f"{n} row(s) back in the queue")


@outbox_app.command("replay")
def replay_case(
    case_ids: Annotated[list[str], typer.Argument(help="cases whose current state to send again")],
) -> None:
    """Send cases' current state to every sink again (a new case.updated event each)."""
    cids = [parse_case_id(c) for c in case_ids]
    config = open_config()
    if not config.sinks:
        raise fail("no sinks configured (see `sinks:` in hub.yaml)")
    missing: list[str] = []
    queued = 0
    every = max(1, len(cids) // 20)
    engine = open_engine()
    try:
        for text, cid in track(
            list(zip(case_ids, cids, strict=True)), total=len(cids), label="replaying", every=every
        ):
            with session_scope(engine) as s:  # one transaction per case: each is queued when done
                case = s.get(CaseRow, cid)
                if case is None:
                    missing.append(text)
                    continue
                CaseService(s, config).record(
                    case, "case.updated", datetime.now(UTC), {"replay": True}, actor="replay"
                )
            queued += 1
            if len(cids) == 1:
                console.print(f"{public_id(cid)} queued for {len(config.sinks)} sink(s)")
    finally:
        engine.dispose()
    if len(cids) > 1:
        console.print(f"{queued} case(s) queued for {len(config.sinks)} sink(s)", highlight=False)
    if missing:
        raise fail(f"no case {', '.join(missing)}")


@outbox_app.command("flush")
def flush_outbox(
    sink: Annotated[str | None, typer.Option(help="only this sink")] = None,
    max_seconds: Annotated[
        float | None, typer.Option(help="give up waiting for backoffs after this long")
    ] = None,
) -> None:
    """Deliver everything pending now, with retries, and exit when nothing deliverable is left."""
    engine = open_engine()
    try:
        stats = Outbox(engine, open_config()).flush(sink, max_seconds=max_seconds)
        with session() as s:
            left = s.exec(select(OutboxRow).where(OutboxRow.status != "delivered")).all()
    finally:
        engine.dispose()
    dead = sum(1 for r in left if r.status == "dead")
    console.print(f"{stats.summary()}; {len(left) - dead} still pending, {dead} dead", highlight=False)
    if dead:
        raise typer.Exit(1)
