"""``/api/stats``: complaint statistics as JSON, or CSV with ``?format=csv``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from hub.api.auth import Principal, need_agent
from hub.stats import Period, compute_stats, parse_day, stats_csv

router = APIRouter(prefix="/api", tags=["statistics"])


def load_stats(request: Request, period: str, start: str | None, end: str | None, tz: str) -> dict[str, Any]:
    with Session(request.app.state.engine) as session:
        return compute_stats(
            session,
            period=period,
            start=parse_day(start, tz),
            end=parse_day(end, tz, end=True),
            tz=tz,
        )


@router.get("/stats", response_model=None)
def stats(
    request: Request,
    who: Annotated[Principal, Depends(need_agent)],
    period: Period = Period.month,
    start: Annotated[str | None, Query(alias="from", description="YYYY-MM-DD, inclusive")] = None,
    end: Annotated[str | None, Query(alias="to", description="YYYY-MM-DD, inclusive")] = None,
    tz: Annotated[str, Query(description="time zone of the buckets, e.g. Asia/Shanghai")] = "UTC",
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> dict[str, Any] | Response:
    """Counts per category, channel and severity by period; handling time; SLA compliance; repeat contacts."""
    doc = load_stats(request, period.value, start, end, tz)
    if format == "csv":
        return Response(
            stats_csv(doc),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="hub-stats-{period.value}.csv"'},
        )
    return doc
