"""Normalisation throughput: captures parsed and enriched per second on one core (no database).

    .venv/bin/python benchmarks/normalise_throughput.py [--seconds 5] [--corpus ../shared/corpus/dev]

Every capture of the corpus (its connector folders, as ``hub import`` reads them) is
split into raw items, parsed by its connector and enriched by ``hub.understand``, over
and over until at least ``--seconds`` of such work has been done, in this one process
and thread. Prints messages per second per core overall and per connector, and how the
time divides between parsing (``split_capture`` + ``parse``) and enriching.

The dev corpus repeats, so the text caches of ``hub.understand`` (Traditional →
Simplified conversion) are cleared before every pass: each pass costs what unseen
messages would (``--warm-caches`` keeps them). A first, untimed pass loads the
connectors, the taxonomy and OpenCC.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from hub.config import HubConfig
from hub.errors import ParseError
from hub.importer import file_time, plan_import
from hub.registry import get_connector
from hub.understand import UnderstandSettings, enrich
from hub.understand.textutil import to_simplified, to_traditional


@dataclass(frozen=True)
class Capture:
    connector: str
    path: Path
    data: bytes


@dataclass
class Tally:
    messages: int = 0
    rejected: int = 0
    parse_s: float = 0.0
    enrich_s: float = 0.0

    @property
    def work_s(self) -> float:
        return self.parse_s + self.enrich_s


def load(corpus: Path) -> list[Capture]:
    return [Capture(name, path, path.read_bytes()) for path, name in plan_import(corpus)]


def one_pass(captures: list[Capture], settings: UnderstandSettings, tallies: dict[str, Tally]) -> None:
    clock = time.perf_counter
    for capture in captures:
        connector = get_connector(capture.connector)
        tally = tallies[capture.connector]
        t0 = clock()
        messages = []
        try:
            items = connector.split_capture(
                capture.data, instance=capture.connector, received_at=file_time(capture.path)
            )
        except ParseError:
            items = []
            tally.rejected += 1
        for raw in items:
            try:
                messages.append(connector.parse(raw))
            except ParseError:
                tally.rejected += 1
        t1 = clock()
        for message in messages:
            enrich(message, settings)
        t2 = clock()
        tally.messages += len(messages)
        tally.parse_s += t1 - t0
        tally.enrich_s += t2 - t1


def rate(messages: int, seconds: float) -> str:
    return f"{messages / seconds:,.0f}" if seconds > 0 else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum seconds of work (default 5)")
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared/corpus/dev"
    )
    parser.add_argument("--warm-caches", action="store_true", help="keep text caches between passes")
    args = parser.parse_args()
    if not args.corpus.is_dir():
        sys.exit(f"corpus not found: {args.corpus}")

    captures = load(args.corpus)
    settings = HubConfig().understand
    one_pass(captures, settings, defaultdict(Tally))  # warm-up: plugins, taxonomy, OpenCC

    tallies: dict[str, Tally] = defaultdict(Tally)
    passes = 0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    while passes == 0 or sum(t.work_s for t in tallies.values()) < args.seconds:
        if not args.warm_caches:
            to_simplified.cache_clear()
            to_traditional.cache_clear()
        one_pass(captures, settings, tallies)
        passes += 1
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0

    total = Tally(
        messages=sum(t.messages for t in tallies.values()),
        rejected=sum(t.rejected for t in tallies.values()),
        parse_s=sum(t.parse_s for t in tallies.values()),
        enrich_s=sum(t.enrich_s for t in tallies.values()),
    )
    per_pass = total.messages // passes
    print(
        f"normalisation throughput: {len(captures)} captures -> {per_pass} messages per pass, "
        f"{passes} passes, {total.work_s:.2f} s of work on one core "
        f"(cpu/wall {cpu / wall:.2f}, {'warm' if args.warm_caches else 'cold'} text caches)"
    )
    print(f"corpus: {args.corpus}")
    header = (
        f"{'connector':<10} {'messages':>9} {'msg/s/core':>11} {'parse ms':>9} {'enrich ms':>10} "
        f"{'parse %':>8} {'enrich %':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, tally in [*sorted(tallies.items()), ("overall", total)]:
        if name == "overall":
            print("-" * len(header))
        per_msg = max(tally.messages, 1)
        print(
            f"{name:<10} {tally.messages:>9} {rate(tally.messages, tally.work_s):>11} "
            f"{1000 * tally.parse_s / per_msg:>9.3f} {1000 * tally.enrich_s / per_msg:>10.3f} "
            f"{100 * tally.parse_s / tally.work_s:>7.1f}% {100 * tally.enrich_s / tally.work_s:>8.1f}%"
        )
    print(
        f"parse only: {rate(total.messages, total.parse_s)} msg/s/core; "
        f"enrich only: {rate(total.messages, total.enrich_s)} msg/s/core; "
        f"rejected items: {total.rejected}; "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
