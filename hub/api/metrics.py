"""``GET /metrics``: Prometheus text exposition (see :mod:`hub.metrics`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from hub.metrics import render

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    body, content_type = await run_in_threadpool(render, request.app.state.engine, request.app.state.config)
    return Response(body, media_type=content_type)
