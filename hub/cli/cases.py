"""``hub cases list|show|export``: the merged queue in a terminal."""

from __future__ import annotations

import json
import os
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from sqlmodel import col, select

from hub.cases import CaseService, public_id
from hub.cli.app import app, console, fail, open_config, session
from hub.customers import customer_identities
from hub.export import iso, iter_case_documents
from hub.tables import CaseRow, CustomerRow, MessageRow

cases_app = typer.Typer(help="The merged complaint queue.", no_args_is_help=True)
app.add_typer(cases_app, name="cases")


class ExportFormat(StrEnum):
    jsonl = "jsonl"


def parse_case_id(value: str) -> int:
    """``C-000123``, ``c-123`` or ``123`` to the numeric id."""
    digits = value.upper().removeprefix("C-")
    if not digits.isdigit():
        raise fail(f"{value!r} is not a case id (like C-000123)")
    return int(digits)


@cases_app.command("list")
def list_cases(
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
    category: Annotated[str | None, typer.Option(help="only this category")] = None,
    severity: Annotated[str | None, typer.Option(help="only this severity")] = None,
    limit: Annotated[int, typer.Option(help="at most this many rows")] = 50,
) -> None:
    """Cases, most urgent (earliest SLA due) first."""
    with session() as s:
        query = select(CaseRow)
        if status:
            query = query.where(CaseRow.status == status)
        if category:
            query = query.where(CaseRow.category == category)
        if severity:
            query = query.where(CaseRow.severity == severity)
        rows = s.exec(query.order_by(col(CaseRow.sla_due_at), col(CaseRow.id)).limit(limit)).all()
        table = Table(box=None, pad_edge=False)
        for name, width in (
            ("case", 8),
            ("status", 13),
            ("category", 16),
            ("severity", 8),
            ("customer", 14),
            ("msgs", 4),
            ("channels", 16),
            ("SLA due", 16),
        ):
            table.add_column(
                name, no_wrap=True, min_width=min(width, 8), max_width=width, overflow="ellipsis"
            )
        table.add_column("first words", no_wrap=True, overflow="ellipsis", max_width=48)
        for case in rows:
            assert case.id is not None
            msgs = s.exec(
                select(MessageRow).where(MessageRow.case_id == case.id).order_by(col(MessageRow.occurred_at))
            ).all()
            customer = s.get(CustomerRow, case.customer_id) if case.customer_id else None
            first = next((m for m in msgs if m.channel != "courier"), msgs[0] if msgs else None)
            words = ((first.subject or first.text) if first else "").replace("\n", " ")[:40]
            table.add_row(
                public_id(case.id),
                case.status,
                case.category,
                case.severity,
                (customer.name if customer else None) or "-",
                str(len(msgs)),
                ",".join(sorted({m.channel for m in msgs})),
                (iso(case.sla_due_at) or "-")[:16],
                words,
            )
        console.print(table)


@cases_app.command("show")
def show_case(case_id: Annotated[str, typer.Argument(help="case id, e.g. C-000012")]) -> None:
    """One case with its cross-channel timeline and how each message matched."""
    cid = parse_case_id(case_id)
    with session() as s:
        case = s.get(CaseRow, cid)
        if case is None:
            raise fail(f"no case {case_id}")
        customer = s.get(CustomerRow, case.customer_id) if case.customer_id else None
        console.print(
            f"[bold]{public_id(cid)}[/bold]  {case.status}  {case.category}  {case.severity}"
            f"  created {iso(case.created_at)}  SLA due {iso(case.sla_due_at)}",
            highlight=False,
        )
        if case.severity_reasons:
            console.print(f"severity because: {', '.join(case.severity_reasons)}", highlight=False)
        if customer:
            idents = ", ".join(f"{i.kind}:{i.value}" for i in customer_identities(s, customer.id or 0))
            console.print(f"customer #{customer.id} {customer.name or ''}  {idents}", highlight=False)
        for m in s.exec(
            select(MessageRow).where(MessageRow.case_id == cid).order_by(col(MessageRow.occurred_at))
        ).all():
            how = m.matched_by or {}
            detail = ", ".join(f"{k}={v}" for k, v in how.items() if k not in ("by", "candidates"))
            console.rule(
                f"#{m.id}  {iso(m.occurred_at)}  {m.channel}  {m.connector}:{m.native_id}", style="dim"
            )
            console.print(
                f"[dim]matched by {how.get('by')}{' (' + detail + ')' if detail else ''}"
                f"; orders {m.order_nos or []}; parcels {m.tracking_nos or []}[/dim]",
                highlight=False,
            )
            data = m.data or {}
            why = ", ".join((data.get("extra") or {}).get("category_reasons") or [])
            sev = ", ".join(data.get("severity_reasons") or [])
            if m.category or why or sev:
                console.print(
                    f"[dim]{m.category or '-'}/{m.severity or '-'}"
                    f"{' because ' + why if why else ''}{'; severe: ' + sev if sev else ''}[/dim]",
                    highlight=False,
                )
            if m.subject:
                console.print(f"[bold]{m.subject}[/bold]", highlight=False)
            console.print(m.text, highlight=False, markup=False)


@cases_app.command("export")
def export_cases(
    format: Annotated[ExportFormat, typer.Option("--format", help="output format")] = ExportFormat.jsonl,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="write to FILE instead of stdout")
    ] = None,
) -> None:
    """Every case in the firm export shape, one JSON object per line."""
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    n = 0
    try:
        with session() as s:
            for doc in iter_case_documents(s):
                out.write(json.dumps(doc, ensure_ascii=False) + "\n")
                n += 1
    finally:
        if output:
            out.close()
            console.print(f"exported {n} cases to {output}", highlight=False)


def _actor(actor: str | None) -> str:
    return actor or os.environ.get("USER") or "cli"


@cases_app.command("merge")
def merge_cases(
    keep: Annotated[str, typer.Argument(help="the case that stays, e.g. C-000012")],
    other: Annotated[str, typer.Argument(help="the case merged into it (closed as merged)")],
    actor: Annotated[
        str | None, typer.Option(help="who does it, for the audit record (default $USER)")
    ] = None,
) -> None:
    """Merge case OTHER into case KEEP; recorded and sent downstream as case.merged."""
    with session() as s:
        a, b = s.get(CaseRow, parse_case_id(keep)), s.get(CaseRow, parse_case_id(other))
        if a is None or b is None:
            raise fail(f"no case {keep if a is None else other}")
        moved = CaseService(s, open_config()).merge(a, b, actor=_actor(actor), at=datetime.now(UTC))
        console.print(f"merged {public_id(b.id or 0)} into {public_id(a.id or 0)}: {moved} message(s) moved")


@cases_app.command("split")
def split_case(
    case_id: Annotated[str, typer.Argument(help="the case to split, e.g. C-000012")],
    messages: Annotated[
        str, typer.Option(help="message ids to move out, comma-separated (#ids of `cases show`)")
    ],
    actor: Annotated[
        str | None, typer.Option(help="who does it, for the audit record (default $USER)")
    ] = None,
) -> None:
    """Move some messages of a case into a new case; recorded and sent downstream as case.split."""
    try:
        ids = [int(x.strip().lstrip("#")) for x in messages.split(",") if x.strip()]
    except ValueError:
        raise fail(f"--messages {messages!r}: give message ids like 12,15") from None
    if not ids:
        raise fail("--messages: give at least one message id")
    with session() as s:
        case = s.get(CaseRow, parse_case_id(case_id))
        if case is None:
            raise fail(f"no case {case_id}")
        new = CaseService(s, open_config()).split(case, ids, actor=_actor(actor), at=datetime.now(UTC))
        console.print(
            f"split {len(ids)} message(s) of {public_id(case.id or 0)} into {public_id(new.id or 0)}"
        )
