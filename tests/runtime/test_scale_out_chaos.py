"""Under fire: one `hub beat` and two `hub worker`s, workers SIGKILLed, on PostgreSQL + Redis and embedded.

The embedded variant (SQLite store, kombu's SQLAlchemy transport) shows that the embedded broker
loses no work to a crash: a task taken by a killed worker is gone from the queue, but the state is
in the database and the scheduler's next tick redoes what was left.

While a real Dovecot mailbox receives mail and the connector polls, a worker is
killed with SIGKILL at random points several times and restarted. At the end
every message is in exactly one case and the webhook receiver holds every case,
each case's events once and in sequence order.
"""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from hub.db import make_engine
from hub.tables import CaseRow, MessageRow, OutboxRow
from tests.runtime.helpers import hub_env, spawn, stop, wait_for, write_config
from tests.services.dovecot import DovecotServer, dovecot_for_tests
from tests.services.mail import complaint
from tests.simulators.webhook_receiver import WebhookReceiver

SECRET = "scale-out-hook-secret"
MAILS = 60


@pytest.fixture
def dovecot() -> Iterator[DovecotServer]:
    with dovecot_for_tests() as server:
        yield server


@pytest.fixture(params=["postgresql+redis", "embedded"])
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """(database URL, extra env): PostgreSQL + Redis, or SQLite + the embedded broker."""
    if request.param == "embedded":
        return f"sqlite:///{tmp_path}/hub.db", {}
    return request.getfixturevalue("postgres_url"), {"HUB_BROKER_URL": request.getfixturevalue("redis_url")}


def test_two_workers_killed_mid_batch_lose_and_duplicate_nothing(
    dovecot: DovecotServer, stack: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    database_url, broker_env = stack
    engine = make_engine(database_url)  # migrate before the processes start
    rng = random.Random(11)
    with WebhookReceiver(SECRET) as receiver:
        write_config(tmp_path, dovecot, receiver.url)
        env = hub_env(tmp_path, database_url, dovecot, SECRET, **broker_env)
        beat = spawn(["beat", "--schedule-file", str(tmp_path / "beat-state")], env, tmp_path, "beat")
        workers = {
            n: spawn(["worker", "-c", "2", "--name", f"w{n}@%h"], env, tmp_path, f"worker{n}") for n in (1, 2)
        }

        def feed() -> None:
            for start in range(0, MAILS, 10):
                dovecot.append(
                    "alice", "INBOX", [complaint(n, tag="scale") for n in range(start, start + 10)]
                )
                time.sleep(rng.uniform(0.5, 1.5))

        feeder = threading.Thread(target=feed)
        kills = 0
        try:
            feeder.start()
            while feeder.is_alive() or kills < 4:
                time.sleep(rng.uniform(0.8, 2.5))
                victim = rng.choice([1, 2])
                stop(workers[victim], signal.SIGKILL)
                kills += 1
                workers[victim] = spawn(
                    ["worker", "-c", "2", "--name", f"w{victim}-{kills}@%h"], env, tmp_path, f"worker{victim}"
                )
            feeder.join()

            def all_in_cases() -> bool:
                with Session(engine) as s:
                    return (
                        s.exec(
                            select(func.count())
                            .select_from(MessageRow)
                            .where(MessageRow.case_id.is_not(None))  # type: ignore[union-attr]
                        ).one()
                        >= MAILS
                    )

            wait_for(all_in_cases, 120, f"all {MAILS} mails to be in cases")

            def all_delivered() -> bool:
                with Session(engine) as s:
                    rows = s.exec(select(OutboxRow)).all()
                    return bool(rows) and all(r.status == "delivered" for r in rows)

            wait_for(all_delivered, 120, "every outbox row to be delivered")
        finally:
            for proc in [beat, *workers.values()]:
                stop(proc, signal.SIGTERM, timeout=30)

        with Session(engine) as s:
            messages = s.exec(select(MessageRow)).all()
            cases = s.exec(select(CaseRow)).all()
            rows = s.exec(select(OutboxRow)).all()
        engine.dispose()
        assert len(messages) == MAILS == len({m.native_id for m in messages}), "no duplicate message"
        assert all(m.case_id is not None for m in messages)
        assert len(cases) == MAILS, "each complaint is its own case, opened once"
        assert set(receiver.events) == {r.event_id for r in rows}
        assert len(receiver.by_case) == MAILS
        for case_id, seqs in receiver.by_case.items():
            assert seqs == list(range(1, len(seqs) + 1)), (case_id, seqs)
        assert kills >= 4
