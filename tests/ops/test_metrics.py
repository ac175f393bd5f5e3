"""Prometheus metrics (store gauges at scrape time, process counters, /metrics) and health problems."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from hub.api import create_app
from hub.config import AlertSettings, ConnectorInstance, HubConfig, SinkInstance
from hub.db import session_scope
from hub.metrics import health_problems, observe_delivery, observe_match, observe_poll, render, snapshot
from hub.tables import ConnectorHealthRow, OutboxRow
from hub.users import add_user, create_token
from tests.core.test_pipeline import build_corpus, run_import

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def config(**alerts: object) -> HubConfig:
    return HubConfig(
        connectors=[
            ConnectorInstance(name=name, type="email", config={"host": "h", "username": "u"})
            for name in ("inbox-ok", "inbox-flaky", "inbox-down", "inbox-stale", "inbox-new")
        ],
        sinks=[
            SinkInstance(name="crm", type="webhook", config={"url": "http://127.0.0.1:9/h", "secret": "s"})
        ],
        alerts=AlertSettings(**alerts),  # type: ignore[arg-type]
    )


def health(engine: Engine) -> None:
    rows = [
        ConnectorHealthRow(
            instance="inbox-ok",
            connector="email",
            last_poll_at=NOW,
            last_success_at=NOW - timedelta(seconds=30),
            items_total=12,
        ),
        ConnectorHealthRow(
            instance="inbox-flaky",
            connector="email",
            last_poll_at=NOW,
            last_success_at=NOW - timedelta(minutes=5),
            consecutive_failures=3,
            last_error="TransientError: connection reset",
            items_total=4,
        ),
        ConnectorHealthRow(
            instance="inbox-down",
            connector="email",
            healthy=False,
            reason="configuration: login refused for user 'u'",
            last_poll_at=NOW,
            last_success_at=NOW - timedelta(minutes=1),
            consecutive_failures=1,
        ),
        ConnectorHealthRow(
            instance="inbox-stale",
            connector="email",
            last_poll_at=NOW,
            last_success_at=NOW - timedelta(hours=3),
            consecutive_failures=1,
        ),
    ]
    with session_scope(engine) as s:
        for row in rows:
            s.add(row)


def test_health_problems_follow_the_alert_settings(sqlite_engine: Engine) -> None:
    health(sqlite_engine)
    found = health_problems(sqlite_engine, config(), now=NOW)
    assert found == [
        "connector inbox-flaky: 3 polls failed in a row: TransientError: connection reset",
        "connector inbox-down: unhealthy: configuration: login refused for user 'u'; "
        "fix its configuration, then `hub check inbox-down`",
        "connector inbox-stale: no successful poll for 3 h 0 min (alerts.max_lag 1h)",
    ]
    # N is configurable, and the lag alert can be switched off
    relaxed = health_problems(sqlite_engine, config(failing_polls=5, max_lag="0"), now=NOW)
    assert relaxed == [
        "connector inbox-down: unhealthy: configuration: login refused for user 'u'; "
        "fix its configuration, then `hub check inbox-down`"
    ]


def test_store_gauges_and_dead_letters(sqlite_engine: Engine, tmp_path: Path) -> None:
    cfg = config()
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), cfg)
    health(sqlite_engine)
    with session_scope(sqlite_engine) as s:
        rows = s.exec(select(OutboxRow)).all()
        assert rows
        rows[0].status = "dead"
        s.add(rows[0])
    total = len(rows)
    metrics = snapshot(sqlite_engine, cfg)
    assert metrics["hub_store_up"][()] == 1
    assert metrics["hub_outbox_depth"][(("sink", "crm"),)] == total - 1
    assert metrics["hub_dead_letters"][(("sink", "crm"),)] == 1
    assert metrics["hub_outbox_rows"][(("sink", "crm"), ("status", "delivered"))] == 0
    with Session(sqlite_engine) as s:
        from hub.tables import CaseRow

        cases = len(s.exec(select(CaseRow)).all())
    assert sum(metrics["hub_cases"].values()) == cases > 0
    key = (("connector", "email"), ("instance", "inbox-flaky"))
    assert metrics["hub_connector_consecutive_failures"][key] == 3
    assert metrics["hub_connector_up"][key] == 0
    assert metrics["hub_connector_up"][(("connector", "email"), ("instance", "inbox-ok"))] == 1
    assert metrics["hub_connector_items_read_total"][(("connector", "email"), ("instance", "inbox-ok"))] == 12
    assert (
        metrics["hub_connector_lag_seconds"][(("connector", "email"), ("instance", "inbox-stale"))] > 3 * 3600
    )
    assert metrics["hub_health_problem"][(("instance", "crm"), ("kind", "dead_letters"))] == 1
    assert metrics["hub_health_problem"][(("instance", "inbox-flaky"), ("kind", "failing_polls"))] == 1
    assert metrics["hub_health_problems"][()] >= 4
    assert "sink crm: 1 dead letter(s); see `hub outbox list`, then `hub outbox retry`" in health_problems(
        sqlite_engine, cfg
    )


def test_process_counters(sqlite_engine: Engine) -> None:
    before = snapshot(sqlite_engine, HubConfig())
    observe_poll("inbox-x", 0.4, 7, True)
    observe_poll("inbox-x", 1.5, 0, False)
    observe_match("order_no")
    observe_match("new_case")
    observe_delivery("crm-x", True, 3)
    observe_delivery("crm-x", False)
    after = snapshot(sqlite_engine, HubConfig())

    def delta(name: str, *labels: tuple[str, str]) -> float:
        key = tuple(sorted(labels))
        return float(after[name].get(key, 0) - before.get(name, {}).get(key, 0))

    assert delta("hub_polls_total", ("instance", "inbox-x"), ("result", "ok")) == 1
    assert delta("hub_polls_total", ("instance", "inbox-x"), ("result", "error")) == 1
    assert delta("hub_poll_errors_total", ("instance", "inbox-x")) == 1
    assert delta("hub_items_read_total", ("instance", "inbox-x")) == 7
    assert delta("hub_poll_duration_seconds_count", ("instance", "inbox-x")) == 2
    assert delta("hub_match_decisions_total", ("kind", "order_no")) == 1
    assert delta("hub_cases_opened_total") == 1
    assert delta("hub_deliveries_total", ("result", "ok"), ("sink", "crm-x")) == 3
    assert delta("hub_delivery_failures_total", ("sink", "crm-x")) == 1
    body, content_type = render(sqlite_engine, HubConfig())
    assert content_type.startswith("text/plain")
    assert b'hub_items_read_total{instance="inbox-x"}' in body


def test_metrics_endpoint_needs_a_token(sqlite_engine: Engine) -> None:
    with session_scope(sqlite_engine) as s:
        add_user(s, "prometheus", "agent", None)
        _, token = create_token(s, "prometheus", label="scraper")
    client = TestClient(create_app(sqlite_engine, config()))
    assert client.get("/metrics").status_code == 401
    reply = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain")
    assert "hub_outbox_depth" in reply.text and "hub_store_up 1.0" in reply.text


def test_counters_of_several_processes_add_up(tmp_path: Path, sqlite_engine: Engine) -> None:
    """`hub run`: with PROMETHEUS_MULTIPROC_DIR, a worker's counters show in the API process's scrape."""
    folder = tmp_path / "prom"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}
    worker = "from hub.metrics import observe_poll; observe_poll('mp-inbox', 0.2, 5, True)"
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True)
    url = str(sqlite_engine.url)
    scrape = (
        "from hub.db import make_engine; from hub.config import HubConfig; from hub.metrics import render; "
        f"print(render(make_engine({url!r}), HubConfig())[0].decode())"
    )
    out = subprocess.run([sys.executable, "-c", scrape], env=env, check=True, capture_output=True, text=True)
    assert 'hub_items_read_total{instance="mp-inbox"} 10.0' in out.stdout, out.stdout[:2000]
    assert "hub_store_up 1.0" in out.stdout
