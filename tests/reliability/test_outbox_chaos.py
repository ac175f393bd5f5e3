"""Reliability: import the dev corpus while the CRM fails 30% of requests and the flusher is killed.

The flusher is the real ``hub outbox flush`` command in a subprocess, killed with
SIGKILL at random points and restarted, while the import runs. The receiver
answers 30% of requests with a 500, a 429 with ``Retry-After``, a late answer
(past the sink's timeout) or a dropped connection. At the end the receiver must
hold every case event exactly once, each case's events in sequence order, and
nothing may be left dead or pending.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlmodel import Session, select

from hub.config import load_config
from hub.db import make_engine
from hub.importer import iter_intakes, plan_import
from hub.pipeline import Pipeline
from hub.tables import OutboxRow
from tests.simulators.base import Recorded, Reply
from tests.simulators.webhook_receiver import WebhookReceiver

SECRET = "chaos-secret-5f1e2d"


class FlakyReceiver(WebhookReceiver):
    """Fails a share of requests in every way a network and a busy CRM can."""

    def __init__(self, secret: str, rate: float, seed: int) -> None:
        super().__init__(secret)
        self.rate = rate
        self.rng = random.Random(seed)
        self.faults_served = 0

    def handle(self, request: Recorded) -> Reply:
        with self.lock:
            roll = self.rng.random()
            kind = self.rng.choice(["500", "429", "late", "drop"])
        if roll >= self.rate:
            return super().handle(request)
        self.faults_served += 1
        if kind == "500":
            return Reply(500, b'{"error":"internal"}')
        if kind == "429":
            return Reply(429, b'{"error":"slow down"}', {"Retry-After": "0.2"})
        if kind == "late":
            reply = super().handle(request)  # processed, but the answer comes after the client gave up
            reply.delay = 1.5
            return reply
        return Reply(drop=True)


@pytest.mark.corpus
def test_exactly_once_in_order_despite_failures_and_kills(dev_corpus: Path, tmp_path: Path) -> None:
    receiver = FlakyReceiver(SECRET, rate=0.3, seed=20261125)
    receiver.start()
    db = tmp_path / "hub.db"
    (tmp_path / "hub.yaml").write_text(
        "sinks:\n"
        "  - name: crm\n"
        "    type: webhook\n"
        f"    config: {{url: '{receiver.url}/hook', secret: '${{CHAOS_SECRET}}', timeout: 0.5}}\n"
        "    delivery: {max_attempts: 100, backoff_seconds: 0.05, backoff_max_seconds: 0.3,\n"
        "               breaker_threshold: 20, breaker_cooldown_seconds: 0.2}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "HUB_DATABASE_URL": f"sqlite:///{db}",
        "HUB_CONFIG": str(tmp_path / "hub.yaml"),
        "CHAOS_SECRET": SECRET,
    }
    os.environ.update({k: env[k] for k in ("HUB_CONFIG", "CHAOS_SECRET")})
    engine = make_engine(f"sqlite:///{db}")
    config = load_config(tmp_path / "hub.yaml")
    hub = [sys.executable, "-c", "from hub.cli import main; main()"]
    imported: list[int] = []
    importing = threading.Thread(
        target=lambda: imported.append(
            Pipeline(engine, config).ingest(iter_intakes(plan_import(dev_corpus))[1]).messages
        )
    )
    rng = random.Random(7)
    kills = 0
    try:
        importing.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            proc = subprocess.Popen(
                [*hub, "outbox", "flush"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            try:
                out, _ = proc.communicate(timeout=rng.uniform(0.3, 2.0))
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.communicate()
                kills += 1
                continue
            assert proc.returncode == 0, out.decode()
            if not importing.is_alive():
                break
        else:
            pytest.fail("the outbox was not drained within 240 s")
        importing.join()
        final = subprocess.run(
            [*hub, "outbox", "flush"], env=env, capture_output=True, text=True, timeout=240
        )
        assert final.returncode == 0, final.stdout + final.stderr
    finally:
        receiver.stop()
        for key in ("HUB_CONFIG", "CHAOS_SECRET"):
            os.environ.pop(key, None)

    with Session(engine) as s:
        rows = list(s.exec(select(OutboxRow)).all())
    engine.dispose()
    assert imported == [101], "the import finished with every dev message"
    assert rows and all(r.status == "delivered" for r in rows), {r.status for r in rows}
    assert kills >= 3, "the flusher should have been killed mid-work several times"
    assert receiver.faults_served > 10
    assert set(receiver.events) == {r.event_id for r in rows}, "every event delivered, none invented"
    cases = {r.case_id for r in rows}
    assert len(receiver.by_case) == len(cases)
    for case_id, seqs in receiver.by_case.items():
        assert seqs == list(range(1, len(seqs) + 1)), (case_id, seqs)
