"""``/healthz``: database reachable, and each connector instance's last poll."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlmodel import Session, select

from hub.export import iso
from hub.tables import ConnectorHealthRow

router = APIRouter()


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
