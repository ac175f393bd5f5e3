"""``POST /webhooks/{instance}``: pushed deliveries (Twilio, AfterShip, Kuaidi100 ...).

The instance's connector verifies the provider's signature and turns the
request into raw items; they go through the same pipeline as polled items
(stored once per native id, so a provider's redelivery changes nothing).
A forged or unsigned delivery gets 401 and is not stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from hub.connector import Capability, WebhookRequest
from hub.errors import ConfigError, SignatureInvalid
from hub.pipeline import IngestStats, Intake, Pipeline
from hub.polling import configure_instance, find_instance

router = APIRouter()


@router.post("/webhooks/{instance}")
async def receive(instance: str, request: Request) -> Response:
    config = request.app.state.config
    try:
        inst = find_instance(config, instance)
        connector, cfg = configure_instance(config, inst)
    except ConfigError:
        raise HTTPException(404, f"no connector instance {instance!r}") from None
    if Capability.WEBHOOK not in connector.capabilities:
        raise HTTPException(404, f"connector instance {instance!r} receives no webhooks")
    delivery = WebhookRequest(
        url=str(request.url),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=await request.body(),
        received_at=datetime.now(UTC),
        instance=inst.name,
    )
    try:
        items = connector.webhook(cfg, delivery)
    except SignatureInvalid as exc:
        raise HTTPException(401, f"signature rejected: {exc}") from None
    pipeline = Pipeline(request.app.state.engine, config)
    await run_in_threadpool(pipeline.ingest, [Intake(item) for item in items], IngestStats())
    status, body, media_type = connector.webhook_reply(len(items))
    return Response(body, status_code=status, media_type=media_type)
