"""`hub run` on its embedded default: mail appended to a real Dovecot becomes a case, and reaches the CRM."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.runtime.helpers import free_port, hub_env, spawn, stop, wait_for, write_config
from tests.services.dovecot import DovecotServer, dovecot_for_tests
from tests.services.mail import complaint
from tests.simulators.webhook_receiver import WebhookReceiver

SECRET = "embedded-hook-secret-1"


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    with dovecot_for_tests() as server:
        yield server


def test_mail_becomes_a_case_within_seconds_under_hub_run(dovecot: DovecotServer, tmp_path: Path) -> None:
    with WebhookReceiver(SECRET) as receiver:
        write_config(tmp_path, dovecot, receiver.url)
        db = tmp_path / "hub.db"
        env = hub_env(tmp_path, f"sqlite:///{db}", dovecot, SECRET)
        port = free_port()
        proc = spawn(["run", "--port", str(port)], env, tmp_path, "run")
        try:
            wait_for(lambda: _healthy(port), 60, "hub run to serve /healthz")
            dovecot.append("alice", "INBOX", [complaint(1, tag="embedded")])
            engine = create_engine(f"sqlite:///{db}")

            def has_case() -> bool:
                with engine.connect() as c:
                    return bool(
                        c.execute(text("SELECT count(*) FROM message WHERE case_id IS NOT NULL")).scalar()
                    )

            seconds = wait_for(has_case, 30, "the appended mail to become a case")
            wait_for(lambda: len(receiver.events) >= 1, 30, "the webhook sink to receive case.created")
            engine.dispose()
        finally:
            code = stop(proc, signal.SIGINT, timeout=60)
        assert seconds < 30
        assert next(iter(receiver.events.values()))["type"] == "case.created"
        assert code == 0, (tmp_path / "run.log").read_text()[-3000:]


def _healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.RequestException:
        return False
