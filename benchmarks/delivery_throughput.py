"""Delivery throughput (case events per second) through the outbox to simulators that answer in 50 ms.

    .venv/bin/python benchmarks/delivery_throughput.py [--messages 1000] [--latency 0.05]
                                                        [--corpus ../shared/corpus/dev]

Imports the dev corpus replicated to N messages (as ``import_throughput.py`` does) into a fresh
SQLite store configured with two sinks, so both get the same outbox rows:

- ``webhook``: the generic signed webhook (one call per event) to the test receiver
  (``tests/simulators/webhook_receiver.py``);
- ``hubspot``: tickets batch upsert (up to 100 events of different cases per call) to the HubSpot
  simulator (``tests/simulators/hubspot.py``, its rate limit lifted: this measures latency, not quota).

Both simulators answer every request after ``--latency`` seconds. Each sink is then flushed on its
own with :class:`hub.outbox.Outbox` (in the foreground, one worker, as ``hub outbox flush`` does),
and the script prints events/s, the calls made and what the simulators hold. A case's later
events wait for its earlier ones, so a batch sink needs one round per event of its busiest case.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from import_throughput import replicate  # noqa: E402
from sqlmodel import Session, func, select  # noqa: E402

from hub.config import DeliverySettings, HubConfig, SinkInstance  # noqa: E402
from hub.db import make_engine  # noqa: E402
from hub.importer import iter_intakes, plan_import  # noqa: E402
from hub.outbox import Outbox  # noqa: E402
from hub.pipeline import Pipeline  # noqa: E402
from hub.tables import CaseRow, OutboxRow  # noqa: E402
from tests.simulators.base import Recorded, Reply  # noqa: E402
from tests.simulators.hubspot import HubSpotSimulator  # noqa: E402
from tests.simulators.webhook_receiver import WebhookReceiver  # noqa: E402

SECRET = "whsec-bench-0123456789"
TOKEN = "pat-na1-bench000-0000-0000-0000-000000000000"


class SlowReceiver(WebhookReceiver):
    """The webhook receiver, answering after a fixed delay."""

    def __init__(self, secret: str, latency: float) -> None:
        super().__init__(secret)
        self.latency = latency

    def handle(self, request: Recorded) -> Reply:
        reply = super().handle(request)
        reply.delay = self.latency
        return reply


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds each simulator takes to answer")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared/corpus/dev")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    receiver = SlowReceiver(SECRET, args.latency)
    hubspot = HubSpotSimulator(TOKEN, rate_limit=10**9, latency=args.latency)
    receiver.start()
    hubspot.start()
    try:
        settings = DeliverySettings(backoff_seconds=0.05, backoff_max_seconds=1.0)
        config = HubConfig(
            sinks=[
                SinkInstance(
                    name="webhook",
                    type="webhook",
                    config={"url": receiver.url + "/hook", "secret": SECRET, "timeout": 10},
                    delivery=settings,
                ),
                SinkInstance(
                    name="hubspot",
                    type="hubspot",
                    mapping=str(ROOT / "mappings" / "hubspot.yaml"),
                    config={"base_url": hubspot.url, "access_token": TOKEN, "timeout": 10},
                    delivery=settings,
                ),
            ]
        )
        total = replicate(args.corpus, tmp / "corpus", args.messages)
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        t0 = time.perf_counter()
        _, intakes = iter_intakes(plan_import(tmp / "corpus"))
        Pipeline(engine, config).ingest(intakes)
        t1 = time.perf_counter()
        with Session(engine) as s:
            cases = s.exec(select(func.count()).select_from(CaseRow)).one()
            events = s.exec(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.sink == "webhook")
            ).one()
            deepest = s.exec(select(func.max(OutboxRow.sequence)).where(OutboxRow.sink == "webhook")).one()
        print(f"corpus             {total} messages -> {cases} cases, {events} case events per sink")
        print(f"import             {t1 - t0:.1f} s (outbox rows written with the cases)")
        print(
            f"simulator latency  {args.latency * 1000:.0f} ms per request; busiest case has {deepest} events"
        )
        outbox = Outbox(engine, config)
        for name, sim in (("webhook", receiver), ("hubspot", hubspot)):
            before = len(sim.requests)
            start = time.perf_counter()
            stats = outbox.flush(name)
            took = time.perf_counter() - start
            calls = len(sim.requests) - before
            print(
                f"{name:<18} {stats.delivered} events in {took:.1f} s = {stats.delivered / took:.1f} events/s; "
                f"{calls} HTTP calls ({stats.delivered / max(calls, 1):.1f} events/call), "
                f"{stats.failed} failed attempts, {stats.dead} dead"
            )
        print(
            f"check              webhook receiver holds {len(receiver.events)} events "
            f"({receiver.duplicates} duplicates); HubSpot holds {len(hubspot.records)} tickets "
            f"({hubspot.duplicates()} duplicates, {hubspot.created} created, {hubspot.updated} updated)"
        )
        engine.dispose()
    finally:
        receiver.stop()
        hubspot.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
