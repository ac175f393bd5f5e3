"""Polling a real private Dovecot through the core: SQLite store, cursors, restarts, crashes, ``hub poll``.

"No duplicates" is checked in the store itself: the raw_item, message and case
tables hold exactly one row per distinct message.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from connectors.email.imap import parse_cursor
from hub.cli.app import app
from hub.config import HubConfig, load_config
from hub.connector import Batch, ReadContext
from hub.db import make_engine
from hub.polling import poll_instance
from hub.registry import get_connector
from tests.services.dovecot import DovecotServer, dovecot_for_tests
from tests.services.mail import complaint, message

ROOT = Path(__file__).resolve().parents[2]


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


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {
            t: c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in ("raw_item", "message", "case")
        }


def cursor_of(engine: Engine, partition: str = "INBOX") -> tuple[int, int] | None:
    with engine.connect() as c:
        value = c.execute(text("SELECT value FROM cursor WHERE partition = :p"), {"p": partition}).scalar()
    return parse_cursor(value)


def test_polling_twice_stores_each_message_once(server: DovecotServer, sqlite_engine: Engine) -> None:
    server.append("alice", "INBOX", [complaint(n) for n in range(30)])
    config = hub_config(server, batch_size=8)
    first = poll_instance(sqlite_engine, config, config.connectors[0])
    assert first.ok and first.batches == 4 and first.stats.messages == 30
    again = poll_instance(sqlite_engine, config, config.connectors[0])
    assert again.ok and again.stats.seen == 0
    assert counts(sqlite_engine) == {"raw_item": 30, "message": 30, "case": 30}


def test_uidvalidity_change_resyncs_without_duplicates(server: DovecotServer, sqlite_engine: Engine) -> None:
    mail = [complaint(n, tag="uv") for n in range(7)]
    server.append("alice", "Complaints", mail[:5])
    config = hub_config(server, folders=["Complaints"])
    assert poll_instance(sqlite_engine, config, config.connectors[0]).stats.messages == 5
    before = cursor_of(sqlite_engine, "Complaints")

    c = server.client()  # the mailbox is rebuilt: same mail, new UIDVALIDITY, plus two new messages
    c.delete_folder("Complaints")
    c.create_folder("Complaints")
    c.logout()
    server.append("alice", "Complaints", mail)

    result = poll_instance(sqlite_engine, config, config.connectors[0])
    after = cursor_of(sqlite_engine, "Complaints")
    assert before and after and after[0] != before[0], "Dovecot gave the new folder a new UIDVALIDITY"
    assert (result.stats.seen, result.stats.duplicates, result.stats.messages) == (7, 5, 2)
    assert counts(sqlite_engine) == {"raw_item": 7, "message": 7, "case": 7}
    assert after[1] == 7


@pytest.mark.parametrize("how", ["graceful", "killed"])
def test_server_restart_mid_poll(
    server: DovecotServer, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    server.append("alice", "INBOX", [complaint(n) for n in range(40)])
    config = hub_config(server, batch_size=10)
    email = get_connector("email")
    original = email.read

    def stop_after_first_batch(cfg: Any, cursor: dict[str, str], ctx: ReadContext) -> Iterator[Batch]:
        for n, batch in enumerate(original(cfg, cursor, ctx)):
            yield batch
            if n == 0:  # the core has committed the first batch; the server goes down and up
                if how == "killed":  # a crash: the connection is reset
                    server.stop(kill=True)
                    server.start()
                else:  # SIGTERM: Dovecot lets sessions run ~10 s, then says BYE (slow but real)
                    server.restart()

    monkeypatch.setattr(email, "read", stop_after_first_batch)
    broken = poll_instance(sqlite_engine, config, config.connectors[0])
    assert not broken.ok and broken.batches == 1
    assert broken.error and broken.error.startswith(f"connection to 127.0.0.1:{server.port} lost")
    if how == "graceful":
        assert "Server shutting down" in broken.error
    else:
        assert "reset" in broken.error or "EOF" in broken.error
    assert counts(sqlite_engine)["raw_item"] == 10
    with sqlite_engine.connect() as c:
        health = c.execute(text("SELECT healthy, consecutive_failures FROM connector_health")).one()
    assert tuple(health) == (1, 1), "a dropped connection is transient: still healthy"

    monkeypatch.undo()
    resumed = poll_instance(sqlite_engine, config, config.connectors[0])
    assert resumed.ok and resumed.stats.messages == 30 and resumed.stats.duplicates == 0
    assert counts(sqlite_engine) == {"raw_item": 40, "message": 40, "case": 40}


_CRASHING_POLL = textwrap.dedent(
    """
    import sys, time
    from hub import pipeline
    from hub.config import load_config
    from hub.db import make_engine
    from hub.polling import poll_instance

    original = pipeline.Pipeline.ingest_batch
    calls = []

    def ingest_batch(self, batch, stats, also=None):
        calls.append(len(batch))
        if len(calls) < 3:
            return original(self, batch, stats, also)

        def stall(session):  # third batch: items and cursor written, transaction not committed
            also(session)
            session.flush()
            print("IN TRANSACTION", flush=True)
            time.sleep(600)

        return original(self, batch, stats, stall)

    pipeline.Pipeline.ingest_batch = ingest_batch
    config = load_config(sys.argv[1])
    poll_instance(make_engine(sys.argv[2]), config, config.connectors[0])
    """
)


def test_a_poll_killed_between_fetch_and_commit_leaves_no_duplicates(
    server: DovecotServer, tmp_path: Path
) -> None:
    server.append("alice", "INBOX", [complaint(n, tag="crash") for n in range(120)])
    config_file = tmp_path / "hub.yaml"
    config_file.write_text(yaml.safe_dump(hub_config(server, batch_size=25).model_dump(mode="json")))
    url = f"sqlite:///{tmp_path}/hub.db"
    make_engine(url).dispose()  # migrated before the child starts

    child = subprocess.Popen(
        [sys.executable, "-c", _CRASHING_POLL, str(config_file), url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == b"IN TRANSACTION\n", child.stderr.read() if child.stderr else line
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    engine = make_engine(url)
    try:
        assert counts(engine) == {"raw_item": 50, "message": 50, "case": 50}, "two batches were committed"
        position = cursor_of(engine)
        assert position is not None and position[1] == 50
        config = load_config(config_file)
        result = poll_instance(engine, config, config.connectors[0])
        assert result.ok and result.stats.messages == 70 and result.stats.duplicates == 0
        assert counts(engine) == {"raw_item": 120, "message": 120, "case": 120}
        again = poll_instance(engine, config, config.connectors[0])
        assert again.stats.seen == 0
        assert counts(engine) == {"raw_item": 120, "message": 120, "case": 120}
    finally:
        engine.dispose()


def test_a_message_over_the_cap_is_quarantined_with_the_reason(
    server: DovecotServer, sqlite_engine: Engine
) -> None:
    server.append("alice", "INBOX", [complaint(1), message("Scans", "y" * 40_000, msg_id="huge@example.com")])
    config = hub_config(server, max_message_bytes=8192)
    result = poll_instance(sqlite_engine, config, config.connectors[0])
    assert result.ok and result.stats.messages == 1 and result.stats.quarantined == 1
    with sqlite_engine.connect() as c:
        status, error, size = c.execute(
            text("SELECT status, error, size FROM raw_item WHERE native_id = 'huge@example.com'")
        ).one()
    assert status == "quarantined" and size < 2000
    assert error.startswith("message too large: original size ") and "max_message_bytes 8192" in error


def test_idle_brings_new_mail_into_a_case_within_seconds(
    server: DovecotServer, sqlite_engine: Engine
) -> None:
    config = hub_config(server)
    poll_instance(sqlite_engine, config, config.connectors[0])

    def later() -> None:
        time.sleep(0.5)
        server.append("alice", "INBOX", [complaint(9, tag="idle")])

    thread = threading.Thread(target=later)
    start = time.monotonic()
    thread.start()
    result = poll_instance(sqlite_engine, config, config.connectors[0], wait_seconds=30)
    elapsed = time.monotonic() - start
    thread.join()
    assert result.ok and result.stats.cases_opened == 1
    assert elapsed < 3, f"{elapsed:.1f} s"


def test_hub_poll_once_with_the_password_from_the_environment(
    server: DovecotServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.append("alice", "INBOX", [complaint(n) for n in range(12)])
    server.append("alice", "Processed", [])
    hub_yaml = tmp_path / "hub.yaml"
    hub_yaml.write_text(
        textwrap.dedent(
            f"""
            connectors:
              - name: support-inbox
                type: email
                interval: 30s
                config:
                  host: 127.0.0.1
                  port: {server.port}
                  security: starttls
                  ca_file: {server.ca_file}
                  username: alice
                  password: "${{IMAP_PW}}"
                  folders: [INBOX]
                  batch_size: 5
                  move_to: Processed
            """
        )
    )
    monkeypatch.setenv("HUB_CONFIG", str(hub_yaml))
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite:///{tmp_path}/hub.db")
    monkeypatch.setenv("IMAP_PW", server.users["alice"])
    runner = CliRunner()

    done = runner.invoke(app, ["poll", "support-inbox", "--once"])
    assert done.exit_code == 0, done.output
    assert "support-inbox: ok, 3 batch(es); 12 items: 12 new messages" in done.output
    assert server.users["alice"] not in done.output
    again = runner.invoke(app, ["poll", "support-inbox", "--once"])
    assert again.exit_code == 0 and "0 items" in again.output

    c = server.client()
    assert c.select_folder("INBOX")[b"EXISTS"] == 0 and c.select_folder("Processed")[b"EXISTS"] == 12
    c.logout()
    engine = make_engine(f"sqlite:///{tmp_path}/hub.db")
    assert counts(engine) == {"raw_item": 12, "message": 12, "case": 12}
    engine.dispose()

    monkeypatch.setenv("IMAP_PW", "Wrong-Password-77")
    refused = runner.invoke(app, ["poll", "support-inbox", "--once"])
    assert refused.exit_code == 1
    assert "FAILED: configuration: login refused for user 'alice'" in refused.output
    assert "Wrong-Password-77" not in refused.output
