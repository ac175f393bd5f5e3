"""Ops routes: connector health, dead letters, the SLA sweep. Agents get 403."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from hub.api.auth import Principal, need_ops
from hub.cases import public_id
from hub.db import session_scope
from hub.export import iso
from hub.outbox import Outbox
from hub.sla import sweep
from hub.tables import ConnectorHealthRow, OutboxRow
from hub.users import audit

router = APIRouter(prefix="/api", tags=["ops"])
Ops = Annotated[Principal, Depends(need_ops)]


def connector_rows(request: Request) -> list[dict[str, Any]]:
    """Every configured connector instance with its health (instances never polled show as unknown)."""
    config = request.app.state.config
    with Session(request.app.state.engine) as session:
        rows = {r.instance: r for r in session.exec(select(ConnectorHealthRow)).all()}
    out = []
    names = [c.name for c in config.connectors] + sorted(set(rows) - {c.name for c in config.connectors})
    types = {c.name: c.type for c in config.connectors}
    for name in names:
        row = rows.get(name)
        out.append(
            {
                "instance": name,
                "connector": row.connector if row else types.get(name),
                "configured": name in types,
                "healthy": row.healthy if row else None,
                "reason": row.reason if row else None,
                "last_poll_at": iso(row.last_poll_at) if row else None,
                "last_success_at": iso(row.last_success_at) if row else None,
                "last_error_at": iso(row.last_error_at) if row else None,
                "last_error": row.last_error if row else None,
                "consecutive_failures": row.consecutive_failures if row else 0,
                "last_items": row.last_items if row else 0,
                "items_total": row.items_total if row else 0,
            }
        )
    return out


@router.get("/connectors")
def connectors(request: Request, who: Ops) -> list[dict[str, Any]]:
    """Health of each connector instance: last poll, last success, last error, failures in a row."""
    return connector_rows(request)


@router.get("/outbox/dead")
def dead_letters(request: Request, who: Ops, limit: int = 200) -> list[dict[str, Any]]:
    """Deliveries that went to dead letter, with the last error."""
    with Session(request.app.state.engine) as session:
        rows = session.exec(
            select(OutboxRow).where(OutboxRow.status == "dead").order_by(col(OutboxRow.id)).limit(limit)
        ).all()
    return [
        {
            "id": r.id,
            "sink": r.sink,
            "case_id": public_id(r.case_id),
            "sequence": r.sequence,
            "type": r.type,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "created_at": iso(r.created_at),
        }
        for r in rows
    ]


@router.post("/outbox/{outbox_id}/retry")
async def retry_dead_letter(request: Request, outbox_id: int, who: Ops) -> dict[str, Any]:
    """Put one dead delivery back to pending."""
    engine, config = request.app.state.engine, request.app.state.config
    n = await run_in_threadpool(lambda: Outbox(engine, config).retry(outbox_id))
    if not n:
        raise HTTPException(404, f"no dead delivery {outbox_id}")
    with session_scope(engine) as session:
        audit(session, who.name, "outbox.retry", outbox_id=outbox_id)
    return {"retried": n}


@router.post("/sla/sweep")
def sla_sweep(request: Request, who: Ops) -> dict[str, Any]:
    """Flag overdue cases (``case.sla_breached``) and open cases for stalled shipments, now."""
    result = sweep(request.app.state.engine, request.app.state.config)
    return {
        "flagged": [public_id(i) for i in result.flagged],
        "proactive": [public_id(i) for i in result.proactive],
    }
