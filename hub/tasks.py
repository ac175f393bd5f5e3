"""Celery tasks: thin triggers, each calling one service function.

Every task is idempotent: the state it works on lives in the database, so a
task run twice, or redelivered after its worker died, changes nothing twice.
Polls of one connector instance and deliveries to one sink never overlap:
each runs under a database lock with an expiry.
"""

from __future__ import annotations

import logging
from functools import cache

from sqlalchemy import Engine

from hub.celery_app import app
from hub.config import HubConfig, load_config
from hub.db import make_engine, refresh_statistics
from hub.locks import held
from hub.outbox import Outbox
from hub.polling import find_instance, poll_instance
from hub.sla import sweep

log = logging.getLogger(__name__)


@cache
def _runtime() -> tuple[Engine, HubConfig]:
    """The worker's engine and config, built once per process (never at import)."""
    return make_engine(), load_config()


@app.task(name="hub.poll")
def poll(instance: str) -> str:
    """One poll cycle of a connector instance, unless another worker is already polling it."""
    engine, config = _runtime()
    with held(engine, f"poll:{instance}", config.runtime.lock_seconds) as lease:
        if lease is None:
            return f"{instance}: already being polled"
        return poll_instance(engine, config, find_instance(config, instance), heartbeat=lease.renew).line()


@app.task(name="hub.deliver")
def deliver() -> str:
    """One delivery pass per sink (each sink under its own lock)."""
    engine, config = _runtime()
    if not config.sinks:
        return "no sinks"
    outbox = Outbox(engine, config)
    lines = []
    for sink in config.sinks:
        with held(engine, f"deliver:{sink.name}", config.runtime.lock_seconds) as lease:
            if lease is not None:
                lines.append(
                    f"{sink.name}: {outbox.deliver_once(sink.name, heartbeat=lease.renew).summary()}"
                )
    return "; ".join(lines) or "all sinks busy"


@app.task(name="hub.sla_sweep")
def sla_sweep() -> str:
    """Flag overdue cases (``case.sla_breached``) once each."""
    engine, config = _runtime()
    return str(sweep(engine, config))


@app.task(name="hub.housekeeping")
def housekeeping() -> str:
    engine, _ = _runtime()
    refresh_statistics(engine)
    return "statistics refreshed"
