"""Alerting hooks: credentials about to expire, and a mailbox whose count disagrees with the hub's.

The count check runs against a real private Dovecot: the server's message count at SELECT
is compared with the raw items the hub holds for the instance after a successful poll.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlmodel import select
from typer.testing import CliRunner

from hub.cli.app import app
from hub.config import AlertSettings, ConnectorInstance, HubConfig, SinkInstance
from hub.db import make_engine, session_scope
from hub.metrics import health_problems, snapshot
from hub.pipeline import IngestStats
from hub.polling import PollResult, poll_instance, record_health
from hub.tables import ConnectorHealthRow
from tests.services.dovecot import DovecotServer, dovecot_for_tests
from tests.services.mail import complaint

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def imap(name: str, **extra: Any) -> ConnectorInstance:
    settings = {"host": "127.0.0.1", "security": "none", "username": "u", "password": "pw-Secret-1", **extra}
    return ConnectorInstance(name=name, type="email", config=settings)


def expiring_config(days: int = 7) -> HubConfig:
    return HubConfig(
        connectors=[
            imap("soon", credentials_expire_at=NOW + timedelta(days=3)),
            imap("later", credentials_expire_at=(NOW + timedelta(days=30)).isoformat()),
            imap("unknown"),
            # invalid otherwise (no password): the raw value is still read
            ConnectorInstance(
                name="broken",
                type="email",
                config={"host": "h", "username": "u", "credentials_expire_at": "2026-11-02T18:00:00Z"},
            ),
        ],
        sinks=[
            SinkInstance(
                name="crm",
                type="webhook",
                config={
                    "url": "http://127.0.0.1:9/h",
                    "secret": "s-Secret-2",
                    "credentials_expire_at": NOW - timedelta(days=2),
                },
            )
        ],
        alerts=AlertSettings(credentials_expiry_days=days),
    )


def test_credentials_about_to_expire(sqlite_engine: Engine) -> None:
    found = health_problems(sqlite_engine, expiring_config(), now=NOW)
    assert found == [
        "connector soon: credentials expire at 2026-11-05 12:00 UTC (in 3 days); renew them and update hub.yaml",
        "connector broken: credentials expire at 2026-11-02 18:00 UTC (in 6 h 0 min); "
        "renew them and update hub.yaml",
        "sink crm: credentials expired at 2026-10-31 12:00 UTC (2 days ago); renew them and update hub.yaml",
    ]
    wider = health_problems(sqlite_engine, expiring_config(days=45), now=NOW)
    assert any(p.startswith("connector later: credentials expire at 2026-12-02") for p in wider)
    assert health_problems(sqlite_engine, expiring_config(days=0), now=NOW) == []


def test_credentials_expiry_is_a_metric_and_can_be_learned(sqlite_engine: Engine) -> None:
    soon = datetime.now(UTC) + timedelta(days=2)
    config = HubConfig(connectors=[imap("inbox", credentials_expire_at=soon), imap("oauth")])
    metrics = snapshot(sqlite_engine, config)
    assert metrics["hub_health_problem"][(("instance", "inbox"), ("kind", "credentials_expiry"))] == 1
    assert (("instance", "oauth"), ("kind", "credentials_expiry")) not in metrics["hub_health_problem"]

    # a connector that learns its token's expiry during a poll: kept on the health row
    result = PollResult("oauth", IngestStats())
    record_health(sqlite_engine, config.connectors[1], result, credentials_expire_at=soon)
    record_health(sqlite_engine, config.connectors[1], result)  # a later poll learning nothing keeps it
    problems = health_problems(sqlite_engine, config)
    assert sum(p.startswith("connector oauth: credentials expire at") for p in problems) == 1


# --- the mailbox count, against a real Dovecot ----------------------------------------------------


@pytest.fixture
def server() -> Iterator[DovecotServer]:
    with dovecot_for_tests() as s:
        yield s


def hub_config(server: DovecotServer, **overrides: Any) -> HubConfig:
    settings = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": "alice",
        "password": server.users["alice"],
        "timeout": 10,
        **overrides,
    }
    return HubConfig.model_validate({"connectors": [{"name": "mail", "type": "email", "config": settings}]})


def health_row(engine: Engine, name: str = "mail") -> ConnectorHealthRow:
    with session_scope(engine) as s:
        row = s.exec(select(ConnectorHealthRow).where(ConnectorHealthRow.instance == name)).one()
        s.expunge(row)
        return row


def mismatches(engine: Engine, config: HubConfig) -> list[str]:
    return [p for p in health_problems(engine, config) if "server holds" in p]


def test_hub_losing_items_is_a_health_problem(server: DovecotServer, sqlite_engine: Engine) -> None:
    server.append("alice", "INBOX", [complaint(n, tag="lost") for n in range(6)])
    server.append("alice", "Complaints", [complaint(n, tag="lost-c") for n in range(2)])
    config = hub_config(server, folders=["INBOX", "Complaints"], batch_size=4)
    inst = config.connectors[0]
    assert poll_instance(sqlite_engine, config, inst).stats.messages == 8
    row = health_row(sqlite_engine)
    assert row.observed == {"INBOX": 6, "Complaints": 2} and row.fetched == 8
    assert mismatches(sqlite_engine, config) == []

    with sqlite_engine.begin() as c:  # the hub loses two raw items (and what hangs off them)
        ids = [r[0] for r in c.execute(text("SELECT id FROM raw_item WHERE instance = 'mail' LIMIT 2"))]
        c.execute(text("PRAGMA foreign_keys = OFF"))
        c.execute(text(f"DELETE FROM raw_item WHERE id IN ({', '.join(map(str, ids))})"))
    assert poll_instance(sqlite_engine, config, inst).ok
    assert mismatches(sqlite_engine, config) == [
        "connector mail: server holds 8 items but the hub fetched 6 (Complaints: 2, INBOX: 6)"
    ]
    metrics = snapshot(sqlite_engine, config)
    assert metrics["hub_health_problem"][(("instance", "mail"), ("kind", "count_mismatch"))] == 1


def test_a_partial_poll_shows_until_caught_up(server: DovecotServer, sqlite_engine: Engine) -> None:
    server.append("alice", "INBOX", [complaint(n, tag="part") for n in range(3)])
    config = hub_config(server)
    inst = config.connectors[0]
    assert poll_instance(sqlite_engine, config, inst).stats.messages == 3
    server.append("alice", "INBOX", [complaint(n, tag="part-new") for n in range(4)])
    assert poll_instance(sqlite_engine, config, inst, max_items=1).stats.messages == 1
    assert mismatches(sqlite_engine, config) == [
        "connector mail: server holds 7 items but the hub fetched 4 (INBOX: 7)"
    ]
    assert poll_instance(sqlite_engine, config, inst).stats.messages == 3
    assert mismatches(sqlite_engine, config) == []


def test_moved_mail_is_not_compared(server: DovecotServer, sqlite_engine: Engine) -> None:
    server.append("alice", "INBOX", [complaint(n, tag="mv") for n in range(3)])
    c = server.client()
    c.create_folder("Processed")
    c.logout()
    config = hub_config(server, move_to="Processed")
    assert poll_instance(sqlite_engine, config, config.connectors[0], max_items=1).ok
    row = health_row(sqlite_engine)
    assert row.observed is None and row.fetched is None
    assert mismatches(sqlite_engine, config) == []


def test_hub_status_shows_the_disagreement(
    server: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.append("alice", "INBOX", [complaint(n, tag="st") for n in range(3)])
    hub_yaml = tmp_path / "hub.yaml"
    hub_yaml.write_text(
        textwrap.dedent(
            f"""\
            connectors:
              - name: support-inbox
                type: email
                config:
                  host: 127.0.0.1
                  port: {server.port}
                  security: none
                  username: alice
                  password: "${{IMAP_PW}}"
            """
        )
    )
    monkeypatch.setenv("HUB_CONFIG", str(hub_yaml))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/hub.db")
    monkeypatch.setenv("HUB_BROKER_FILE", str(tmp_path / "broker.db"))
    monkeypatch.delenv("HUB_BROKER_URL", raising=False)
    monkeypatch.setenv("IMAP_PW", server.users["alice"])
    runner = CliRunner()
    done = runner.invoke(app, ["poll", "support-inbox", "--once", "--max-items", "1"])
    assert done.exit_code == 0, done.output
    status = runner.invoke(app, ["status"])
    assert status.exit_code == 1
    assert "problem    connector support-inbox: server holds 3 items but the hub fetched 1" in status.output

    engine = make_engine(f"sqlite:///{tmp_path}/hub.db")
    try:
        assert health_row(engine, "support-inbox").observed == {"INBOX": 3}
    finally:
        engine.dispose()
