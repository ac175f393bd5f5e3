"""IMAP backfill from a private local Dovecot, and the APPEND-to-case latency with IDLE.

    .venv/bin/python benchmarks/imap_backfill.py [--messages 10000] [--samples 10] [--batch-size 100]

1. Starts a private Dovecot (``tests/services/dovecot.py``) and compares ways of
   seeding mail (``doveadm save``, one APPEND per command on one connection,
   MULTIAPPEND, APPEND on several connections) on a small sample, then seeds ``--messages`` distinct
   complaints into INBOX with the fastest one. Seeding is not timed in the results.
2. Backfills them with ``hub.polling.poll_instance`` into a fresh SQLite store
   (fetch, parse, understand, match, cases): messages per second and the
   process's peak RSS.
3. With IDLE on (``poll_instance(..., wait_seconds=30)`` in a thread), APPENDs one
   message and times until its case row exists; ``--samples`` times, median and max.
   (Dovecot batches mailbox-change notifications for 0.5 s before it sends the
   IDLE client ``EXISTS``, so about 500 ms of the figure is the server's.)
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.services is not installed

from sqlalchemy import Engine, text  # noqa: E402

from hub.config import HubConfig  # noqa: E402
from hub.db import make_engine  # noqa: E402
from hub.polling import poll_instance  # noqa: E402
from tests.services.dovecot import DovecotServer, running_dovecot  # noqa: E402
from tests.services.mail import complaint  # noqa: E402

Seeder = Callable[[DovecotServer, str, Iterable[bytes]], None]


def _chunks(items: Iterable[bytes], size: int) -> Iterable[list[bytes]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def seed_append(server: DovecotServer, folder: str, messages: Iterable[bytes]) -> None:
    """One APPEND command per message on one connection."""
    server.append("alice", folder, messages)


def seed_multiappend(server: DovecotServer, folder: str, messages: Iterable[bytes]) -> None:
    """MULTIAPPEND (RFC 3502): 500 messages per command."""
    c = server.client()
    try:
        if folder != "INBOX" and not c.folder_exists(folder):
            c.create_folder(folder)
        for chunk in _chunks(messages, 500):
            c.multiappend(folder, chunk)
    finally:
        c.logout()


def seed_parallel(server: DovecotServer, folder: str, messages: Iterable[bytes]) -> None:
    """APPEND on 8 connections at once (UID order then differs from generation order)."""
    batch = list(messages)
    server.append("alice", folder, [])  # create the folder once
    parts = [batch[i::8] for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda part: server.append("alice", folder, part), parts))


def seed_doveadm(server: DovecotServer, folder: str, messages: Iterable[bytes]) -> None:
    """``doveadm save``, one process per message (no IMAP at all)."""
    server.append("alice", folder, [])  # create the folder once
    for message in messages:
        subprocess.run(
            ["doveadm", "-c", str(server.conf), "save", "-u", "alice", "-m", folder],
            input=message,
            check=True,
        )


SEEDERS: dict[str, Seeder] = {
    "doveadm-save": seed_doveadm,
    "append": seed_append,
    "multiappend": seed_multiappend,
    "parallel-append": seed_parallel,
}


def compare_seeders(server: DovecotServer, sample: int) -> str:
    """Time each seeder on ``sample`` messages in a scratch folder; the fastest one's name."""
    rates: dict[str, float] = {}
    for n, (name, seed) in enumerate(SEEDERS.items()):
        size = min(sample, 200) if name == "doveadm-save" else sample  # a process per message: slow
        mail = [complaint(i, tag=f"cmp{n}") for i in range(size)]
        t0 = time.perf_counter()
        seed(server, f"Scratch{n}", mail)
        rates[name] = size / (time.perf_counter() - t0)
        print(f"  seeding by {name:16s} {rates[name]:8.0f} messages/s", flush=True)
    return max(rates, key=lambda k: rates[k])


def hub_config(server: DovecotServer, batch_size: int) -> HubConfig:
    settings = {
        "host": server.host,
        "port": server.port,
        "security": "none",
        "username": "alice",
        "password": server.users["alice"],
        "batch_size": batch_size,
    }
    return HubConfig.model_validate({"connectors": [{"name": "bench", "type": "email", "config": settings}]})


def count(engine: Engine, table: str) -> int:
    with engine.connect() as c:
        return int(c.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def backfill(server: DovecotServer, engine: Engine, config: HubConfig, expected: int) -> None:
    inst = config.connectors[0]
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    result = poll_instance(engine, config, inst)
    elapsed = time.perf_counter() - t0
    assert result.ok, result.error
    stored = count(engine, "message")
    print(f"backfill: {result.line()}")
    print(
        f"backfill: {stored} messages in {elapsed:.1f} s = {stored / elapsed:.0f} messages/s "
        f"({result.batches} batches); cases {count(engine, 'case')}; "
        f"peak RSS {peak_rss_mb():.0f} MB (before the backfill {rss_before:.0f} MB)"
    )
    assert stored == expected, f"stored {stored} of {expected}"


def case_of(engine: Engine, native_id: str) -> int | None:
    with engine.connect() as c:
        found = c.execute(text("SELECT case_id FROM message WHERE native_id = :n"), {"n": native_id}).first()
    return found[0] if found else None


def idle_latency(server: DovecotServer, engine: Engine, config: HubConfig, samples: int, first: int) -> None:
    """APPEND a complaint from a new customer while a poll waits in IDLE; time until its case exists."""
    inst = config.connectors[0]
    client = server.client()
    times: list[float] = []
    try:
        for n in range(first, first + samples):
            poller = threading.Thread(
                target=poll_instance, args=(engine, config, inst), kwargs={"wait_seconds": 30}
            )
            poller.start()
            time.sleep(0.5)  # the poller is in IDLE by now
            t0 = time.perf_counter()
            client.append("INBOX", complaint(n, tag="idle"))
            while case_of(engine, f"idle-{n}@mail.example.com") is None:
                if time.perf_counter() - t0 > 30:
                    raise RuntimeError("no case within 30 s")
                time.sleep(0.002)
            times.append(time.perf_counter() - t0)
            poller.join()
    finally:
        client.logout()
    ms = sorted(t * 1000 for t in times)
    print(
        f"APPEND -> case with IDLE over {samples} samples: median {statistics.median(ms):.0f} ms, "
        f"max {ms[-1]:.0f} ms (all: {', '.join(f'{t:.0f}' for t in ms)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--compare-sample", type=int, default=1000, help="messages per seeding method")
    args = parser.parse_args()

    with running_dovecot() as server, tempfile.TemporaryDirectory(prefix="hub-bench-") as tmp:
        print(f"dovecot on 127.0.0.1:{server.port}; comparing seeding methods", flush=True)
        best = compare_seeders(server, args.compare_sample)
        t0 = time.perf_counter()
        SEEDERS[best](server, "INBOX", (complaint(n, tag="bench") for n in range(args.messages)))
        print(f"seeded {args.messages} messages by {best} in {time.perf_counter() - t0:.1f} s", flush=True)

        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        config = hub_config(server, args.batch_size)
        backfill(server, engine, config, args.messages)
        idle_latency(server, engine, config, args.samples, first=args.messages)
        engine.dispose()


if __name__ == "__main__":
    main()
