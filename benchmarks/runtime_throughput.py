"""End-to-end messages per second through the running hub: IMAP (real Dovecot) -> cases -> webhook CRM.

    .venv/bin/python benchmarks/runtime_throughput.py [--messages 1000] \\
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--redis-url redis://127.0.0.1:6379]

Three set-ups, each on a fresh store: `hub run` embedded (SQLite + embedded broker), and scale-out
(`hub beat` + 1 or 2 `hub worker`s on PostgreSQL + Redis). The mail is appended before the
processes start; the clock runs from their start until every message is in a case and every
outbox row is delivered. Prints messages/s and case events/s for each.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hub.db import make_engine
from tests.runtime.helpers import free_port, hub_env, spawn, stop, write_config
from tests.services.dovecot import running_dovecot
from tests.services.mail import complaint
from tests.simulators.webhook_receiver import WebhookReceiver

SECRET = "bench-hook-secret"


def drained(url: str, n: int) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            in_cases = c.execute(text("SELECT count(*) FROM message WHERE case_id IS NOT NULL")).scalar() or 0
            pending = c.execute(text("SELECT count(*) FROM outbox WHERE status != 'delivered'")).scalar() or 0
            return in_cases >= n and pending == 0
    except Exception:
        return False
    finally:
        engine.dispose()


def run_once(label: str, n: int, processes: list[list[str]], db_url: str, extra_env: dict[str, str]) -> None:
    with (
        running_dovecot() as server,
        WebhookReceiver(SECRET) as receiver,
        tempfile.TemporaryDirectory() as tmp,
    ):
        folder = Path(tmp)
        for start in range(0, n, 200):
            server.append(
                "alice",
                "INBOX",
                [complaint(i, tag=f"bench{label}") for i in range(start, min(n, start + 200))],
            )
        write_config(folder, server, receiver.url, interval="1s")
        make_engine(db_url).dispose()  # migrate first
        env = hub_env(folder, db_url, server, SECRET, **extra_env)
        t0 = time.monotonic()
        procs = [spawn(args, env, folder, f"p{i}") for i, args in enumerate(processes)]
        try:
            while not drained(db_url, n):
                if time.monotonic() - t0 > 1800:
                    print(f"{label}: gave up after 30 min")
                    return
                time.sleep(0.5)
            seconds = time.monotonic() - t0
        finally:
            for p in procs:
                stop(p, signal.SIGTERM, timeout=60)
        print(
            f"{label:<34} {n} messages in {seconds:6.1f} s = {n / seconds:6.1f} msg/s; "
            f"{len(receiver.events)} case events delivered ({len(receiver.events) / seconds:.1f}/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379")
    args = parser.parse_args()
    n = args.messages
    with tempfile.TemporaryDirectory() as tmp:
        run_once(
            "hub run (embedded, SQLite)",
            n,
            [["run", "--port", str(free_port())]],
            f"sqlite:///{tmp}/hub.db",
            {},
        )
    admin = create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    for workers in (1, 2):
        name = f"hub_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = f"{args.postgres_url.rsplit('/', 1)[0]}/{name}"
        procs = [["beat"]] + [
            ["worker", "-c", "2", "--pool", "threads", "--name", f"b{i}@%h"] for i in range(workers)
        ]
        try:
            run_once(
                f"{workers} worker(s), PostgreSQL + Redis",
                n,
                procs,
                url,
                {"HUB_BROKER_URL": f"{args.redis_url.rstrip('/')}/9"},
            )
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


if __name__ == "__main__":
    main()
