"""Poll a configured connector instance once: read from its cursor, ingest, save the cursor.

This is the service behind ``hub poll`` and the scheduled poll task. Each batch
a connector yields is ingested together with the cursor covering it, in one
transaction. Health is recorded per instance: an :class:`~hub.errors.AuthError`
marks the connector unhealthy with the reason (a configuration problem, not
retried); other failures count consecutive errors. Secrets from the instance's
config are scrubbed from every recorded or logged error.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from hub.config import ConnectorInstance, HubConfig
from hub.connector import Capability, ConnectorConfig, ReadContext, SourceConnector, secret_values
from hub.cursors import load_cursor, save_cursor
from hub.db import session_scope
from hub.errors import AuthError, ConfigError, HubError
from hub.http import scrub
from hub.metrics import observe_poll
from hub.pipeline import IngestStats, Intake, Pipeline
from hub.registry import get_connector
from hub.tables import CaseRow, ConnectorHealthRow, MessageKeyRow, MessageRow, RawItemRow

__all__ = ["PollResult", "configure_instance", "find_instance", "poll_instance", "record_health"]

log = logging.getLogger(__name__)


@dataclass
class PollResult:
    instance: str
    stats: IngestStats
    ok: bool = True
    error: str | None = None
    batches: int = 0

    def line(self) -> str:
        if self.ok:
            return f"{self.instance}: ok, {self.batches} batch(es); {self.stats.summary()}"
        return f"{self.instance}: FAILED: {self.error} ({self.stats.seen} items stored before the failure)"


def find_instance(config: HubConfig, name: str) -> ConnectorInstance:
    for inst in config.connectors:
        if inst.name == name:
            return inst
    names = ", ".join(i.name for i in config.connectors) or "none configured"
    msg = f"no connector instance {name!r} in the configuration ({names})"
    raise ConfigError(msg)


def configure_instance(config: HubConfig, inst: ConnectorInstance) -> tuple[SourceConnector, ConnectorConfig]:
    """The plugin and its validated config for an instance; ConfigError names the field (never a secret)."""
    connector = get_connector(inst.type, allow=config.connector_allowlist)
    try:
        return connector, connector.configure(inst.config)
    except ValidationError as exc:
        problems = "; ".join(
            f"connectors[{inst.name}].config.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
        raise ConfigError(problems) from None


def poll_instance(
    engine: Engine,
    config: HubConfig,
    inst: ConnectorInstance,
    *,
    max_items: int | None = None,
    wait_seconds: float = 0.0,
    heartbeat: Callable[[], bool] | None = None,
    on_batch: Callable[[PollResult], None] | None = None,
) -> PollResult:
    """One poll cycle of ``inst``; never raises for the connector's own failures (they are recorded).

    ``heartbeat`` is called after each batch (e.g. to renew the poll lock); if it returns
    False the cycle stops there (its batches so far are committed). ``on_batch`` is called
    with the result so far after each committed batch (progress display).
    """
    connector, cfg = configure_instance(config, inst)
    if Capability.POLL not in connector.capabilities:
        msg = (
            f"connector {inst.type!r} cannot poll (capabilities: {', '.join(sorted(connector.capabilities))})"
        )
        raise ConfigError(msg)
    secrets = secret_values(cfg)
    configured_expiry = cfg.credentials_expire_at  # a connector that learns the expiry changes it
    started = time.monotonic()
    pipeline = Pipeline(engine, config)
    result = PollResult(inst.name, IngestStats())
    with session_scope(engine) as session:
        cursor = load_cursor(session, inst.name)
    ctx = ReadContext(instance=inst.name, log=log, max_items=max_items, wait_seconds=wait_seconds)
    if Capability.TRACK in connector.capabilities:
        with session_scope(engine) as session:
            ctx.tracking_numbers = open_case_tracking_numbers(session)
    try:
        for batch in connector.read(cfg, dict(cursor), ctx):

            def save(session: Session, partition: str = batch.partition, value: str = batch.cursor) -> None:
                save_cursor(session, inst.name, partition, value)

            intakes = [Intake(item) for item in batch.items]
            pipeline.ingest_batch(intakes, result.stats, also=save)
            result.batches += 1
            if on_batch is not None:
                on_batch(result)
            if heartbeat is not None and not heartbeat():
                log.warning("poll of %s stopped early: lost its lock", inst.name)
                break
    except Exception as exc:  # recorded as health, never crashes the poller
        result.ok = False
        kind = "configuration" if isinstance(exc, AuthError) else type(exc).__name__
        text = str(exc) if isinstance(exc, HubError) else f"{type(exc).__name__}: {exc}"
        result.error = scrub(f"{kind}: {text}" if kind == "configuration" else text, secrets)
        log.warning("poll of %s failed: %s", inst.name, result.error)
        record_health(engine, inst, result, auth_failed=isinstance(exc, AuthError))
        observe_poll(
            inst.name, time.monotonic() - started, result.stats.messages + result.stats.quarantined, ok=False
        )
        return result
    learned = cfg.credentials_expire_at if cfg.credentials_expire_at != configured_expiry else None
    record_health(engine, inst, result, observed=ctx.observed, credentials_expire_at=learned)
    observe_poll(
        inst.name, time.monotonic() - started, result.stats.messages + result.stats.quarantined, ok=True
    )
    return result


def open_case_tracking_numbers(session: Session) -> list[str]:
    """Tracking numbers named by cases that are not closed (for couriers polled per number)."""
    rows = session.exec(
        select(MessageKeyRow.value)
        .join(MessageRow, col(MessageRow.id) == MessageKeyRow.message_id)
        .join(CaseRow, col(CaseRow.id) == MessageRow.case_id)
        .where(MessageKeyRow.kind == "tracking", CaseRow.status != "closed")
        .distinct()
    ).all()
    return sorted(rows)


def record_health(
    engine: Engine,
    inst: ConnectorInstance,
    result: PollResult,
    *,
    auth_failed: bool = False,
    observed: dict[str, int] | None = None,
    credentials_expire_at: datetime | None = None,
) -> None:
    """Update the instance's health row after a poll.

    After a successful one, ``observed`` (what the server said it holds, per partition) is
    stored with the number of raw items the hub holds for the instance, for
    :func:`hub.metrics.health_problems` to compare; ``credentials_expire_at`` is an expiry
    the connector learned (kept until another is learned).
    """
    now = datetime.now(UTC)
    with session_scope(engine) as session:
        row = session.exec(select(ConnectorHealthRow).where(ConnectorHealthRow.instance == inst.name)).first()
        if row is None:
            row = ConnectorHealthRow(instance=inst.name, connector=inst.type)
        row.last_poll_at = now
        row.last_items = result.stats.messages + result.stats.quarantined
        row.items_total += row.last_items
        if result.ok:
            row.healthy, row.reason, row.consecutive_failures, row.last_success_at = True, None, 0, now
            if observed:
                row.observed = {str(k): int(v) for k, v in observed.items()}
                row.fetched = session.exec(
                    select(func.count()).select_from(RawItemRow).where(RawItemRow.instance == inst.name)
                ).one()
            else:
                row.observed, row.fetched = None, None
            if credentials_expire_at is not None:
                row.credentials_expire_at = credentials_expire_at
        else:
            row.consecutive_failures += 1
            row.last_error, row.last_error_at = result.error, now
            row.healthy = not auth_failed
            row.reason = result.error if auth_failed else row.reason
        session.add(row)
