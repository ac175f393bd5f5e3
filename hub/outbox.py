"""Deliver outbox rows to sinks: in order per case, idempotent in effect, with retries and dead letters.

Rules:

- **Order per case.** Only the head of each case's queue (its lowest pending
  sequence, per sink) is deliverable; event n+1 waits until event n succeeded.
  A dead head blocks its case until an operator retries it.
- **Idempotent.** A row keeps its ``event_id`` across redeliveries; the target's
  record id is remembered per (sink, case) after the first success
  (``sink_link``) and handed to the sink with every later delivery.
- **Retries.** A failed row is retried after exponential backoff with jitter,
  or the sink's ``Retry-After``; after ``delivery.max_attempts`` (or at once for
  a permanent error such as a 4xx) it goes to ``dead`` with the last error.
- **Circuit breaker** per sink: after ``breaker_threshold`` failed calls in a
  row the sink is skipped for ``breaker_cooldown_seconds``, so one dead CRM does
  not hold back the others.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func
from sqlmodel import Session, col, select

from hub.cases import public_id
from hub.config import HubConfig, SinkInstance
from hub.connector import ConnectorConfig, secret_values
from hub.db import session_scope
from hub.errors import AuthError, ConfigError, HubError
from hub.export import iso, load_case_document
from hub.http import scrub
from hub.mapping import Mapping, load_mapping
from hub.metrics import observe_delivery
from hub.registry import get_sink
from hub.sink import Delivery, DeliveryResult, SinkConnector
from hub.tables import CaseEventRow, OutboxRow, SinkLinkRow

__all__ = ["DeliveryStats", "Outbox"]

log = logging.getLogger(__name__)


@dataclass
class DeliveryStats:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    calls: int = 0
    skipped_sinks: set[str] = field(default_factory=set)

    def add(self, other: DeliveryStats) -> None:
        self.delivered += other.delivered
        self.failed += other.failed
        self.dead += other.dead
        self.calls += other.calls
        self.skipped_sinks |= other.skipped_sinks

    def summary(self) -> str:
        return f"{self.delivered} delivered, {self.failed} failed attempts, {self.dead} dead-lettered in {self.calls} calls"


@dataclass
class _Breaker:
    failures: int = 0
    open_until: float = 0.0


@dataclass
class _Sink:
    instance: SinkInstance
    plugin: SinkConnector
    config: ConnectorConfig
    mapping: Mapping | None
    secrets: list[str]


class Outbox:
    """Delivers pending outbox rows of the configured sinks."""

    def __init__(
        self,
        engine: Engine,
        config: HubConfig,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.engine = engine
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.breakers: dict[str, _Breaker] = {}
        self.sinks = {s.name: self._prepare(s) for s in config.sinks}

    @staticmethod
    def _prepare(inst: SinkInstance) -> _Sink:
        plugin = get_sink(inst.type)
        try:
            cfg = plugin.configure(inst.config)
        except Exception as exc:
            msg = f"sinks[{inst.name}].config: {exc}"
            raise ConfigError(msg) from None
        mapping = load_mapping(inst.mapping, sink_type=inst.type) if inst.mapping else None
        return _Sink(inst, plugin, cfg, mapping, secret_values(cfg))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    # -- delivery --------------------------------------------------------------------------
    def deliver_once(
        self, sink: str | None = None, *, limit: int = 500, heartbeat: Callable[[], bool] | None = None
    ) -> DeliveryStats:
        """One pass: deliver every row deliverable now (each case's head), per sink.

        ``heartbeat`` is called after each call to a sink; False stops the pass.
        """
        stats = DeliveryStats()
        for name, target in self.sinks.items():
            if sink is not None and name != sink:
                continue
            breaker = self.breakers.setdefault(name, _Breaker())
            if breaker.open_until > self.clock():
                stats.skipped_sinks.add(name)
                continue
            with Session(self.engine) as session:
                heads = self._heads(session, name, limit)
                batches = [
                    heads[i : i + target.plugin.max_batch]
                    for i in range(0, len(heads), target.plugin.max_batch)
                ]
                deliveries = [[self._delivery(session, name, target, row) for row in b] for b in batches]
            for batch in deliveries:
                if breaker.open_until > self.clock():
                    stats.skipped_sinks.add(name)
                    break
                stats.add(self._call(target, breaker, batch))
                if heartbeat is not None and not heartbeat():
                    return stats
        return stats

    def flush(self, sink: str | None = None, *, max_seconds: float | None = None) -> DeliveryStats:
        """Deliver until nothing deliverable is left (waiting out backoffs); return the totals."""
        total = DeliveryStats()
        start = self.clock()
        while True:
            stats = self.deliver_once(sink)
            total.add(stats)
            wait = self._next_wait(sink)
            if wait is None:
                return total
            if max_seconds is not None and self.clock() - start + wait > max_seconds:
                return total
            if (stats.delivered == 0 and stats.calls == 0) or wait > 0:
                self.sleep(max(wait, 0.05))

    def _next_wait(self, sink: str | None) -> float | None:
        """Seconds until some head row becomes deliverable (0 = now), or None when nothing is left."""
        now = self.clock()
        waits: list[float] = []
        with Session(self.engine) as session:
            for name in self.sinks:
                if sink is not None and name != sink:
                    continue
                heads = self._heads(session, name, 1000, due_only=False)
                if not heads:
                    continue
                breaker = self.breakers.get(name, _Breaker())
                soonest = min((r.next_attempt_at.timestamp() if r.next_attempt_at else now) for r in heads)
                waits.append(max(soonest, breaker.open_until) - now)
        return max(0.0, min(waits)) if waits else None

    def _heads(self, session: Session, sink: str, limit: int, *, due_only: bool = True) -> list[OutboxRow]:
        """Each case's lowest undelivered row for ``sink`` (only pending ones, and due ones if asked)."""
        head = (
            select(OutboxRow.case_id, func.min(OutboxRow.sequence).label("seq"))
            .where(OutboxRow.sink == sink, col(OutboxRow.status).in_(["pending", "dead"]))
            .group_by(col(OutboxRow.case_id))
            .subquery()
        )
        query = (
            select(OutboxRow)
            .join(head, and_(col(OutboxRow.case_id) == head.c.case_id, col(OutboxRow.sequence) == head.c.seq))
            .where(OutboxRow.sink == sink, OutboxRow.status == "pending")
        )
        if due_only:
            now = self._now()
            query = query.where(
                (col(OutboxRow.next_attempt_at).is_(None)) | (col(OutboxRow.next_attempt_at) <= now)
            )
        return list(session.exec(query.order_by(col(OutboxRow.id)).limit(limit)).all())

    def _delivery(self, session: Session, sink: str, target: _Sink, row: OutboxRow) -> Delivery:
        assert row.id is not None
        case = load_case_document(session, row.case_id) or {}
        event = session.exec(
            select(CaseEventRow).where(
                CaseEventRow.case_id == row.case_id, CaseEventRow.sequence == row.sequence
            )
        ).first()
        link = session.exec(
            select(SinkLinkRow).where(SinkLinkRow.sink == sink, SinkLinkRow.case_id == row.case_id)
        ).first()
        occurred = iso(event.occurred_at if event else row.created_at) or ""
        meta = {"type": row.type, "sequence": row.sequence, "event_id": row.event_id, "occurred_at": occurred}
        fields = target.mapping.render(case, meta) if target.mapping else {}
        return Delivery(
            outbox_id=row.id,
            event_id=row.event_id,
            type=row.type,
            sequence=row.sequence,
            case_id=public_id(row.case_id),
            occurred_at=occurred,
            case=case,
            fields=fields,
            external_id=link.external_id if link else row.external_id,
            data=dict(event.data or {}) if event else {},
        )

    def _call(self, target: _Sink, breaker: _Breaker, batch: list[Delivery]) -> DeliveryStats:
        stats = DeliveryStats(calls=1)
        try:
            results = target.plugin.deliver(target.config, batch)
            if len(results) != len(batch):
                msg = f"sink returned {len(results)} results for {len(batch)} deliveries"
                raise HubError(msg)
        except Exception as exc:  # the whole call failed: every delivery in it is retried
            text = scrub(
                str(exc) if isinstance(exc, HubError) else f"{type(exc).__name__}: {exc}", target.secrets
            )
            wait = getattr(exc, "retry_after", None)
            results = [DeliveryResult.failure(d, text, retryable=True, retry_after=wait) for d in batch]
            breaker.failures += 1
            if isinstance(exc, AuthError):
                breaker.failures = max(breaker.failures, target.instance.delivery.breaker_threshold)
        else:
            breaker.failures = 0 if any(r.ok for r in results) else breaker.failures + 1
        settings = target.instance.delivery
        if breaker.failures >= settings.breaker_threshold:
            breaker.open_until = self.clock() + settings.breaker_cooldown_seconds
            log.warning(
                "sink %s: circuit open for %.0f s", target.instance.name, settings.breaker_cooldown_seconds
            )
        self._record(target, results, stats)
        return stats

    def _record(self, target: _Sink, results: list[DeliveryResult], stats: DeliveryStats) -> None:
        settings = target.instance.delivery
        now = self._now()
        with session_scope(self.engine) as session:
            for result in results:
                row = session.get(OutboxRow, result.outbox_id)
                if row is None or row.status != "pending":
                    continue
                row.attempts += 1
                if result.ok:
                    row.status, row.delivered_at, row.last_error = "delivered", now, None
                    row.external_id = result.external_id
                    if result.external_id:
                        self._link(session, target.instance.name, row.case_id, result.external_id, now)
                    stats.delivered += 1
                    observe_delivery(target.instance.name, True)
                else:
                    row.last_error = scrub(result.error or "failed", target.secrets)[:2000]
                    stats.failed += 1
                    observe_delivery(target.instance.name, False)
                    if not result.retryable or row.attempts >= settings.max_attempts:
                        row.status = "dead"
                        stats.dead += 1
                    else:
                        row.next_attempt_at = now + timedelta(
                            seconds=self._backoff(settings, row.attempts, result)
                        )
                session.add(row)

    @staticmethod
    def _link(session: Session, sink: str, case_id: int, external_id: str, now: datetime) -> None:
        link = session.exec(
            select(SinkLinkRow).where(SinkLinkRow.sink == sink, SinkLinkRow.case_id == case_id)
        ).first()
        if link is None:
            session.add(SinkLinkRow(sink=sink, case_id=case_id, external_id=external_id, linked_at=now))
        elif link.external_id != external_id:
            link.external_id, link.linked_at = external_id, now
            session.add(link)

    @staticmethod
    def _backoff(settings: Any, attempts: int, result: DeliveryResult) -> float:
        if result.retry_after is not None:
            return min(result.retry_after, settings.backoff_max_seconds)
        ceiling = min(settings.backoff_max_seconds, settings.backoff_seconds * 2 ** (attempts - 1))
        return random.uniform(ceiling / 2, ceiling)

    # -- operator actions ------------------------------------------------------------------
    def retry(self, outbox_id: int | None = None) -> int:
        """Dead rows back to pending (one, or all with None); returns how many."""
        with session_scope(self.engine) as session:
            query = select(OutboxRow).where(OutboxRow.status == "dead")
            if outbox_id is not None:
                query = query.where(OutboxRow.id == outbox_id)
            rows = session.exec(query).all()
            for row in rows:
                row.status, row.attempts, row.next_attempt_at = "pending", 0, None
                session.add(row)
        self.breakers.clear()
        return len(rows)
