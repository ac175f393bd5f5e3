"""Import throughput on the dev corpus replicated to N messages (default 20,000), on SQLite.

    .venv/bin/python benchmarks/import_throughput.py [--messages 20000] [--corpus ../shared/corpus/dev]

Each copy of the corpus gets its own identifiers: every run of five or more
digits is shifted (order, tracking and phone numbers, ids) and every e-mail
local part, X username and opaque id (Twilio sid, AfterShip event) gets a
copy suffix, consistently within a copy, so cross-channel links hold inside a
copy and copies stay separate customers.
(Numbers inside base64-encoded e-mail bodies are not rewritten, so a few
copies of those messages merge through their shared order numbers, as a real
store with repeat customers would.)

Prints items/s for the scan and the whole import, cases opened, and the
process's peak RSS.
"""

from __future__ import annotations

import argparse
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hub.config import HubConfig
from hub.db import make_engine
from hub.importer import iter_intakes, plan_import
from hub.pipeline import Pipeline

DIGITS = re.compile(rb"\d{5,}")
LOCAL_PART = re.compile(rb"([A-Za-z0-9._%+$=-]+)@")
X_USER = re.compile(rb'("username": ")(\w+)(")')
OPAQUE_ID = re.compile(rb'("(?:TranscriptionSid|event_id)": ")([^"]+)(")')


def transform(data: bytes, k: int) -> bytes:
    if k == 0:
        return data

    def shift(m: re.Match[bytes]) -> bytes:
        run = m.group(0)
        tail = (int(run[-4:]) + k * 7919) % 10000
        return run[:-4] + b"%04d" % tail

    data = DIGITS.sub(shift, data)
    data = LOCAL_PART.sub(lambda m: m.group(1) + b".c%d@" % k, data)
    data = OPAQUE_ID.sub(lambda m: m.group(1) + m.group(2) + b"-c%d" % k + m.group(3), data)
    return X_USER.sub(lambda m: m.group(1) + m.group(2) + b"_c%d" % k + m.group(3), data)


def replicate(corpus: Path, out: Path, messages: int) -> int:
    files = [p for p in corpus.iterdir() if p.is_dir() and p.name != "source"]
    per_copy = sum(1 for line in (corpus / "labels.jsonl").read_text().splitlines() if line.strip())
    copies = -(-messages // per_copy)
    for folder in files:
        (out / folder.name).mkdir(parents=True, exist_ok=True)
        for f in folder.iterdir():
            data = f.read_bytes()
            for k in range(copies):
                stem, dot, ext = f.name.partition(".")
                (out / folder.name / f"{stem}_{k:04d}{dot}{ext}").write_bytes(transform(data, k))
    return copies * per_copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared/corpus/dev"
    )
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hub-bench-"))
    try:
        total = replicate(args.corpus, tmp / "corpus", args.messages)
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        t0 = time.perf_counter()
        count, intakes = iter_intakes(plan_import(tmp / "corpus"))
        t1 = time.perf_counter()
        stats = Pipeline(engine, HubConfig()).ingest(intakes)
        t2 = time.perf_counter()
        engine.dispose()
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"corpus             {total} messages in {count} items ({args.corpus})")
        print(f"scan               {t1 - t0:.1f} s ({count / (t1 - t0):.0f} items/s)")
        print(f"import             {t2 - t1:.1f} s, {stats.seen / (t2 - t1):.0f} items/s (parse+match+store)")
        print(f"end to end         {count / (t2 - t0):.0f} items/s")
        print(f"result             {stats.summary()}")
        print(f"peak RSS           {peak_mb:.0f} MB")
        print(f"database           {(tmp / 'bench.db').stat().st_size / 1e6:.0f} MB on disk")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
