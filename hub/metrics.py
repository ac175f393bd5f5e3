"""Prometheus metrics: the database's truth at scrape time, and counters where events happen.

Computed from the store on every scrape (true whichever process did the work):

- ``hub_outbox_rows{sink,status}`` and ``hub_outbox_depth{sink}`` (pending rows),
  ``hub_dead_letters{sink}``, ``hub_outbox_oldest_pending_seconds{sink}``;
- ``hub_cases{status}``, ``hub_cases_overdue`` (open past their SLA due time),
  ``hub_sla_breaches`` (cases whose SLA breach was recorded), ``hub_quarantined_items``;
- per connector instance: ``hub_connector_up``, ``hub_connector_consecutive_failures``,
  ``hub_connector_lag_seconds`` (since the last successful poll),
  ``hub_connector_items_read_total`` (items stored by polls);
- ``hub_health_problem{instance,kind}`` = 1 for each :func:`health_problems` entry, and
  ``hub_health_problems`` (their number).

Counted in the process where the event happens (call the ``observe_*`` functions):

- ``hub_polls_total{instance,result}``, ``hub_poll_duration_seconds{instance}``,
  ``hub_poll_errors_total{instance}``, ``hub_items_read_total{instance}``;
- ``hub_match_decisions_total{kind}`` (thread, order_no, tracking_no, customer, name,
  new_case, none), ``hub_cases_opened_total``;
- ``hub_deliveries_total{sink,result}``, ``hub_delivery_failures_total{sink}``.

Several processes (``hub run``'s worker and API): set ``PROMETHEUS_MULTIPROC_DIR`` to an
empty folder in the environment of every process *before* they start; ``/metrics`` then
adds up the counters of all of them (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from hub.config import HubConfig, SinkInstance
from hub.tables import CaseRow, CaseWorkRow, ConnectorHealthRow, OutboxRow, RawItemRow

__all__ = [
    "CONTENT_TYPE_LATEST",
    "HealthProblem",
    "health_problems",
    "observe_delivery",
    "observe_match",
    "observe_poll",
    "render",
]

#: this process's counters (not the global default registry: importing twice is harmless)
PROCESS = CollectorRegistry(auto_describe=True)

POLLS = Counter(
    "hub_polls", "Poll cycles by connector instance and result", ["instance", "result"], registry=PROCESS
)
POLL_ERRORS = Counter(
    "hub_poll_errors", "Failed poll cycles by connector instance", ["instance"], registry=PROCESS
)
POLL_SECONDS = Histogram(
    "hub_poll_duration_seconds",
    "Duration of a poll cycle",
    ["instance"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
    registry=PROCESS,
)
ITEMS_READ = Counter(
    "hub_items_read", "Items read by polls, per connector instance", ["instance"], registry=PROCESS
)
MATCHES = Counter("hub_match_decisions", "Matching decisions by kind", ["kind"], registry=PROCESS)
CASES_OPENED = Counter("hub_cases_opened", "Cases opened", registry=PROCESS)
DELIVERIES = Counter("hub_deliveries", "Deliveries to sinks by result", ["sink", "result"], registry=PROCESS)
DELIVERY_FAILURES = Counter(
    "hub_delivery_failures", "Failed delivery attempts per sink", ["sink"], registry=PROCESS
)

_OPENS = {"new_case", "new", "open", "opened"}


def observe_poll(instance: str, seconds: float, items: int, ok: bool) -> None:
    """One poll cycle of ``instance`` took ``seconds`` and stored ``items`` (failed if not ``ok``)."""
    POLLS.labels(instance, "ok" if ok else "error").inc()
    POLL_SECONDS.labels(instance).observe(max(0.0, seconds))
    if items:
        ITEMS_READ.labels(instance).inc(items)
    if not ok:
        POLL_ERRORS.labels(instance).inc()


def observe_match(kind: str) -> None:
    """A message was placed: ``kind`` is how (``MatchDecision.by``, ``new_case``, ``none``)."""
    MATCHES.labels(kind or "none").inc()
    if kind in _OPENS:
        CASES_OPENED.inc()


def observe_delivery(sink: str, ok: bool, count: int = 1) -> None:
    """``count`` deliveries to ``sink`` succeeded (``ok``) or failed."""
    DELIVERIES.labels(sink, "ok" if ok else "failed").inc(count)
    if not ok:
        DELIVERY_FAILURES.labels(sink).inc(count)


# --- health -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthProblem:
    """Something an operator should look at: which instance (or sink), what kind, and the text."""

    instance: str
    kind: str  # unhealthy | failing_polls | lag | count_mismatch | credentials_expiry | dead_letters
    text: str

    def __str__(self) -> str:
        return self.text


def _age(when: datetime | None, now: datetime) -> float | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (now - when).total_seconds())


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} days"


def _when(value: Any) -> datetime | None:
    """A configured ``credentials_expire_at`` (datetime or ISO text) as an aware datetime, or None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _configured_expiry(config: HubConfig, inst: Any) -> datetime | None:
    """``credentials_expire_at`` of a connector or sink instance: its validated config, else the raw value."""
    try:
        if isinstance(inst, SinkInstance):
            from hub.registry import get_sink

            cfg: Any = get_sink(inst.type).configure(inst.config)
        else:
            from hub.polling import configure_instance  # hub.polling imports this module

            cfg = configure_instance(config, inst)[1]
        return _when(getattr(cfg, "credentials_expire_at", None))
    except Exception:  # an invalid config is `hub config validate`'s business, not this check's
        return _when(inst.config.get("credentials_expire_at"))


def _expiry(kind: str, name: str, when: datetime, days: int, now: datetime) -> HealthProblem | None:
    left = (when - now).total_seconds()
    if days <= 0 or left > days * 86400:
        return None
    stamp = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"{kind} {name}: credentials expire at {stamp} (in {_duration(left)})"
        if left > 0
        else f"{kind} {name}: credentials expired at {stamp} ({_duration(-left)} ago)"
    )
    return HealthProblem(name, "credentials_expiry", f"{text}; renew them and update hub.yaml")


def _problems(session: Session, config: HubConfig, now: datetime) -> list[HealthProblem]:
    alerts = config.alerts
    rows = {r.instance: r for r in session.exec(select(ConnectorHealthRow)).all()}
    found: list[HealthProblem] = []
    for inst in config.connectors:
        row = rows.get(inst.name)
        if row is None:
            continue
        error = f": {row.last_error}" if row.last_error else ""
        if not row.healthy:
            found.append(
                HealthProblem(
                    inst.name,
                    "unhealthy",
                    f"connector {inst.name}: unhealthy{': ' + row.reason if row.reason else error}; "
                    f"fix its configuration, then `hub check {inst.name}`",
                )
            )
        elif row.consecutive_failures >= alerts.failing_polls:
            found.append(
                HealthProblem(
                    inst.name,
                    "failing_polls",
                    f"connector {inst.name}: {row.consecutive_failures} polls failed in a row{error}",
                )
            )
        lag = _age(row.last_success_at, now)
        limit = alerts.max_lag_seconds
        if limit > 0 and row.last_poll_at is not None and (lag is None or lag > limit):
            since = f"for {_duration(lag)}" if lag is not None else "ever"
            found.append(
                HealthProblem(
                    inst.name,
                    "lag",
                    f"connector {inst.name}: no successful poll {since} (alerts.max_lag {alerts.max_lag})",
                )
            )
        if row.observed and row.fetched is not None and not row.consecutive_failures:
            held = sum(int(n) for n in row.observed.values())
            if held > row.fetched:
                found.append(
                    HealthProblem(
                        inst.name,
                        "count_mismatch",
                        f"connector {inst.name}: server holds {held} items but the hub fetched "
                        f"{row.fetched} ({', '.join(f'{k}: {v}' for k, v in sorted(row.observed.items()))})",
                    )
                )
    for kind, instances in (("connector", config.connectors), ("sink", config.sinks)):
        for one in instances:
            when = _configured_expiry(config, one)
            if when is None and kind == "connector" and one.name in rows:
                when = _when(rows[one.name].credentials_expire_at)
            problem = _expiry(kind, one.name, when, alerts.credentials_expiry_days, now) if when else None
            if problem is not None:
                found.append(problem)
    dead = session.exec(
        select(OutboxRow.sink, func.count()).where(OutboxRow.status == "dead").group_by(col(OutboxRow.sink))
    ).all()
    for sink, count in sorted(dead):
        found.append(
            HealthProblem(
                sink,
                "dead_letters",
                f"sink {sink}: {count} dead letter(s); see `hub outbox list`, then `hub outbox retry`",
            )
        )
    return found


def health_problems(engine: Engine, config: HubConfig, *, now: datetime | None = None) -> list[str]:
    """What ``hub status`` and the UI should show as problems, one sentence each (empty when all is well).

    A connector is a problem when it is unhealthy (credentials refused), has failed
    ``alerts.failing_polls`` polls in a row, has had no successful poll for ``alerts.max_lag``,
    or its server said (after the last successful poll) it holds more items than the hub
    stored; a connector or sink when its ``credentials_expire_at`` is within
    ``alerts.credentials_expiry_days``; a sink when it has dead letters.
    """
    with Session(engine) as session:
        return [p.text for p in _problems(session, config, now or datetime.now(UTC))]


# --- the scrape ---------------------------------------------------------------------------------


class StoreCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, engine: Engine, config: HubConfig) -> None:
        self.engine = engine
        self.config = config

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        now = datetime.now(UTC)
        up = GaugeMetricFamily("hub_store_up", "1 if the database answered the scrape's queries")
        try:
            with Session(self.engine) as session:
                metrics = list(self._collect(session, now))
        except Exception:  # the database is down: say so, do not fail the scrape
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _collect(self, session: Session, now: datetime) -> Iterator[Metric]:
        sinks = [s.name for s in self.config.sinks]
        rows = GaugeMetricFamily(
            "hub_outbox_rows", "Outbox rows by sink and status", labels=["sink", "status"]
        )
        depth = GaugeMetricFamily("hub_outbox_depth", "Pending outbox rows per sink", labels=["sink"])
        dead = GaugeMetricFamily("hub_dead_letters", "Dead-lettered outbox rows per sink", labels=["sink"])
        counts: dict[tuple[str, str], int] = {}
        for sink, status, n in session.exec(
            select(OutboxRow.sink, OutboxRow.status, func.count()).group_by(
                col(OutboxRow.sink), col(OutboxRow.status)
            )
        ).all():
            counts[(sink, status)] = n
        for sink in sorted(set(sinks) | {s for s, _ in counts}):
            for status in ("pending", "delivered", "dead"):
                rows.add_metric([sink, status], counts.get((sink, status), 0))
            depth.add_metric([sink], counts.get((sink, "pending"), 0))
            dead.add_metric([sink], counts.get((sink, "dead"), 0))
        yield rows
        yield depth
        yield dead
        oldest = GaugeMetricFamily(
            "hub_outbox_oldest_pending_seconds",
            "Age of the oldest pending outbox row per sink",
            labels=["sink"],
        )
        for sink, first in session.exec(
            select(OutboxRow.sink, func.min(OutboxRow.created_at))
            .where(OutboxRow.status == "pending")
            .group_by(col(OutboxRow.sink))
        ).all():
            oldest.add_metric([sink], _age(first, now) or 0.0)
        yield oldest

        cases = GaugeMetricFamily("hub_cases", "Cases by status", labels=["status"])
        for status, n in session.exec(
            select(CaseRow.status, func.count())
            .where(col(CaseRow.merged_into_id).is_(None))
            .group_by(col(CaseRow.status))
        ).all():
            cases.add_metric([status], n)
        yield cases
        overdue = session.exec(
            select(func.count()).where(
                CaseRow.status != "closed",
                col(CaseRow.merged_into_id).is_(None),
                col(CaseRow.sla_due_at).is_not(None),
                col(CaseRow.sla_due_at) < now,
            )
        ).one()
        yield GaugeMetricFamily("hub_cases_overdue", "Open cases past their SLA due time", value=overdue)
        breaches = session.exec(
            select(func.count()).where(col(CaseWorkRow.sla_breached_at).is_not(None))
        ).one()
        yield GaugeMetricFamily("hub_sla_breaches", "Cases whose SLA breach was recorded", value=breaches)
        quarantined = session.exec(select(func.count()).where(RawItemRow.status == "quarantined")).one()
        yield GaugeMetricFamily("hub_quarantined_items", "Raw items in quarantine", value=quarantined)

        labels = ["instance", "connector"]
        up = GaugeMetricFamily(
            "hub_connector_up", "1 if the last poll succeeded and credentials work", labels=labels
        )
        failures = GaugeMetricFamily(
            "hub_connector_consecutive_failures", "Polls failed in a row", labels=labels
        )
        lag = GaugeMetricFamily(
            "hub_connector_lag_seconds", "Seconds since the last successful poll", labels=labels
        )
        items = CounterMetricFamily(
            "hub_connector_items_read", "Items stored by polls (from the store)", labels=labels
        )
        for row in session.exec(select(ConnectorHealthRow).order_by(col(ConnectorHealthRow.instance))).all():
            key = [row.instance, row.connector]
            up.add_metric(key, 1 if row.healthy and not row.consecutive_failures else 0)
            failures.add_metric(key, row.consecutive_failures)
            age = _age(row.last_success_at, now)
            if age is not None:
                lag.add_metric(key, age)
            items.add_metric(key, row.items_total)
        yield up
        yield failures
        yield lag
        yield items

        problems = _problems(session, self.config, now)
        flags = GaugeMetricFamily(
            "hub_health_problem", "1 for each health problem (see `hub status`)", labels=["instance", "kind"]
        )
        for p in problems:
            flags.add_metric([p.instance, p.kind], 1)
        yield flags
        yield GaugeMetricFamily("hub_health_problems", "Number of health problems", value=len(problems))


def _process_collectors(registry: CollectorRegistry) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.isdir(directory):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry.register(_Forward(PROCESS))


class _Forward(Collector):
    """This process's counters inside a scrape registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self.source = source

    def collect(self) -> Iterator[Metric]:
        yield from self.source.collect()


def render(engine: Engine, config: HubConfig) -> tuple[bytes, str]:
    """The text exposition of every metric: (body, content type)."""
    registry = CollectorRegistry(auto_describe=False)
    _process_collectors(registry)
    registry.register(StoreCollector(engine, config))
    body = generate_latest(registry)
    return body, CONTENT_TYPE_LATEST


def snapshot(engine: Engine, config: HubConfig) -> dict[str, Any]:
    """The scrape as ``{metric name: {labels tuple: value}}`` (tests, ``hub status --json``)."""
    registry = CollectorRegistry(auto_describe=False)
    _process_collectors(registry)
    registry.register(StoreCollector(engine, config))
    out: dict[str, Any] = {}
    for metric in registry.collect():
        for sample in metric.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out
