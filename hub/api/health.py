"""``/healthz``: database and broker reachable, outbox depth and dead letters, each connector's last poll."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from kombu import Connection
from sqlalchemy import func, text
from sqlmodel import Session, select

from hub.export import iso
from hub.runtime import broker_url
from hub.tables import ConnectorHealthRow, OutboxRow

router = APIRouter()


def _broker_state() -> str:
    """``ok``, or the reason the broker cannot be reached (2 s timeout)."""
    try:
        with Connection(broker_url(), connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    engine = request.app.state.engine
    body: dict[str, Any] = {"status": "ok", "database": "ok", "connectors": {}}
    try:
        with Session(engine) as session:
            session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            rows = session.exec(select(ConnectorHealthRow)).all()
    except Exception as exc:  # the database is down: say so, with a 503
        body.update(status="error", database=f"error: {type(exc).__name__}")
        return JSONResponse(body, status_code=503)
    body["broker"] = _broker_state()
    if body["broker"] != "ok":
        body["status"] = "degraded"
    with Session(engine) as session:
        depth = dict(session.exec(select(OutboxRow.status, func.count()).group_by(OutboxRow.status)).all())
    body["outbox"] = {"pending": depth.get("pending", 0), "dead": depth.get("dead", 0)}
    if depth.get("dead"):
        body["status"] = "degraded"
    for row in rows:
        body["connectors"][row.instance] = {
            "healthy": row.healthy,
            "reason": row.reason,
            "last_success_at": iso(row.last_success_at),
            "last_error_at": iso(row.last_error_at),
            "last_error": row.last_error,
            "consecutive_failures": row.consecutive_failures,
        }
        if not row.healthy:
            body["status"] = "degraded"
    return JSONResponse(body)
