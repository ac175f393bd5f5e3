"""Latency of the merged queue (web page and list API) with 100,000 cases in the store.

    .venv/bin/python benchmarks/queue_latency.py [--cases 100000] [--requests 60]
        [--backend sqlite|postgres] [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]

The store is generated like ``benchmarks/match_scaling.py`` does it (same generator, bulk inserts:
~0.7 N customers, N cases over two years, 1-4 messages each on every channel, their keys), with
ANALYZE after loading, then 10% of the cases are assigned to agents and a few users with API
tokens and a web session are added. Requests go through the whole FastAPI application in process
(Starlette's TestClient: authentication middleware, routing, queries, JSON or the Jinja2 page),
without network. Each scenario is requested ``--requests`` times after 5 warm-up requests; the
script prints p50 and p95 in milliseconds and the number of matching cases.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session, select

from hub.api import create_app
from hub.config import HubConfig
from hub.db import session_scope
from hub.tables import CaseWorkRow, MessageKeyRow, UserRow
from hub.users import add_user, create_token, open_session

HERE = Path(__file__).resolve().parent


def _generator() -> Any:
    """benchmarks/match_scaling.py as a module (its store generator and backends)."""
    spec = importlib.util.spec_from_file_location("match_scaling", HERE / "match_scaling.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["match_scaling"] = module
    spec.loader.exec_module(module)
    return module


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def prepare(engine: Any, cases: int, rng: random.Random) -> tuple[str, str, str, str]:
    """Users, tokens, a web session, assignments; returns (token, cookie, an order number, a word)."""
    with session_scope(engine) as session:
        users = []
        for name in ("alice", "bert", "chen", "dana"):
            users.append(add_user(session, name, "agent", "benchmark-password", actor="bench"))
        _, token = create_token(session, "alice", actor="bench")
        cookie, _csrf = open_session(session, users[0])
        ids = [u.id for u in users]
    now = datetime.now(UTC)
    rows = [
        {"case_id": cid, "assignee_id": ids[cid % len(ids)], "assigned_at": now}
        for cid in rng.sample(range(1, cases + 1), cases // 10)
    ]
    with engine.begin() as conn:
        conn.execute(insert(CaseWorkRow.__table__), rows)  # type: ignore[attr-defined]
    with Session(engine) as session:
        order = session.exec(select(MessageKeyRow.value).where(MessageKeyRow.kind == "order").limit(1)).one()
        assert session.exec(select(UserRow).where(UserRow.name == "alice")).one()
    return token, cookie, order, "扣款两次"


def scenarios(order: str, word: str) -> list[tuple[str, str]]:
    api = [
        ("api: all cases (default order)", "/api/cases"),
        ("api: open cases", "/api/cases?status=open"),
        ("api: open, category + severity", "/api/cases?status=open&category=logistics&severity=severe"),
        ("api: channel = voicemail", "/api/cases?channel=voicemail"),
        ("api: overdue", "/api/cases?overdue=true"),
        ("api: assignee = me", "/api/cases?assignee=me"),
        ("api: created in one month", "/api/cases?created_from=2025-03-01&created_to=2025-03-31"),
        (
            "api: all filters",
            "/api/cases?status=open&category=logistics&channel=email&created_from=2025-01-01",
        ),
        ("api: q = order number", f"/api/cases?q={order}"),
        ("api: q = words (text search)", f"/api/cases?q={word}"),
        ("api: page 100 of all cases", "/api/cases?status=all&page=100"),
    ]
    page = [
        ("page: queue (open, default)", "/"),
        ("page: category + severity", "/?category=logistics&severity=severe"),
        ("page: channel = voicemail", "/?channel=voicemail&status=all"),
        ("page: overdue + assignee = me", "/?overdue=1&assignee=me"),
        ("page: q = order number", f"/?q={order}&status=all"),
    ]
    return api + page


def run(engine: Any, cases: int, requests: int, seed: int) -> None:
    warnings.filterwarnings("ignore", message=".*httpx.*")  # the TestClient's deprecation notice
    from fastapi.testclient import TestClient

    token, cookie, order, word = prepare(engine, cases, random.Random(seed))
    app = create_app(engine, HubConfig())
    bearer = {"Authorization": f"Bearer {token}"}
    print(f"\n{'scenario':<44}{'p50 ms':>9}{'p95 ms':>9}{'matches':>10}")
    with TestClient(app) as api_client, TestClient(app, cookies={"hub_session": cookie}) as browser:
        for name, url in scenarios(order, word):
            client, headers = (api_client, bearer) if url.startswith("/api/") else (browser, {})
            times: list[float] = []
            matches: Any = "-"
            for i in range(requests + 5):
                t0 = time.perf_counter()
                reply = client.get(url, headers=headers)
                elapsed = (time.perf_counter() - t0) * 1000
                if reply.status_code != 200:
                    msg = f"{url}: HTTP {reply.status_code} {reply.text[:200]}"
                    raise SystemExit(msg)
                if i >= 5:
                    times.append(elapsed)
            if url.startswith("/api/"):
                matches = reply.json()["total"]
            else:
                found = reply.text.split('id="queue-count">', 1)[-1].split("<", 1)[0]
                matches = "".join(ch for ch in found if ch.isdigit()) or "0"
            print(
                f"{name:<44}{statistics.median(times):>9.1f}{pct(times, 0.95):>9.1f}{matches:>10}", flush=True
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=60, help="timed requests per scenario")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "HUB_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    gen = _generator()
    ctx = (
        gen.sqlite_backend(True)
        if args.backend == "sqlite"
        else gen.postgres_backend(args.postgres_url, True)
    )
    with ctx as backend:
        rng = random.Random(args.seed)
        store = gen.Store(rng, gen.make_texts(rng))
        t0 = time.perf_counter()
        store.grow(backend.loader, args.cases)
        print(
            f"{backend.name}: {args.cases:,} cases, {store.messages:,} messages, {store.rows:,} rows "
            f"generated in {time.perf_counter() - t0:.0f} s ({backend.size_on_disk():.0f} MB)",
            flush=True,
        )
        run(backend.engine, args.cases, args.requests, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
