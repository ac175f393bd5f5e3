"""Matching cost per message against a growing store (10k, 100k, 1M cases), on SQLite and PostgreSQL.

    .venv/bin/python benchmarks/match_scaling.py [--sizes 10000,100000,1000000]
        [--backend sqlite|postgres|both] [--probes 300]
        [--postgres-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--no-analyze]

The store is generated with bulk inserts (SQLite ``executemany`` on a plain
``sqlite3`` connection, PostgreSQL ``COPY``), not through the pipeline: for N
cases, ~0.7 N customers with 1-3 identities each (e-mail, E.164 phone,
handle), N cases spread over two years, 1-4 messages per case (e-mail, X,
Mastodon, voicemail, courier; Chinese and English texts of ~100 characters
from a small vocabulary), their raw items (tiny payloads: the matcher never
reads them) and their lookup keys (thread ids, order numbers ``HM+yyyymmdd-NNNNN``
/ ``W+7 digits``, tracking numbers). The schema comes from the migrations
(``hub.db.make_engine``). The store grows in place, 10k -> 100k -> 1M, with
ANALYZE (PostgreSQL: VACUUM ANALYZE) after each step.

At each size ``--probes`` messages are matched, each in its own transaction
that is rolled back: 25% replies with a known thread key, 25% a known order
number, 15% a known tracking number, 20% a known customer's identity and no
number (customer resolved with ``resolve_customer``, then the customer step:
candidate cases, their numbers and texts, text similarity), 15% entirely new
(new identity, unknown or no order number). The time per message is
``resolve_customer`` (when needed) plus ``Matcher.match``. Prints median and
p95 ms per size, the ratio of the largest size's median to the smallest's
(target <= 1.5), the same per kind of message (a slow step hides in the
overall median when only a fifth of the messages reach it), the median time
of each SQL statement the matcher ran, and the plan of each statement at the
largest size. Exit status 1 when a ratio is over 1.5.

``--no-analyze`` skips ANALYZE: the hub itself never runs it, so this shows
the plans a store without planner statistics gets.

PostgreSQL runs in a fresh database ``hub_bench_<random>`` that is dropped at
the end; SQLite in a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import re
import resource
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, select
from sqlalchemy.engine import make_url
from sqlmodel import Session

from hub.config import MatchingSettings
from hub.customers import resolve_customer
from hub.db import make_engine
from hub.matching import Matcher
from hub.models import Channel, ComplaintMessage, Identity, IdentityKind
from hub.tables import CaseRow, CustomerIdentityRow, MessageKeyRow

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# --------------------------------------------------------------------------- generated content

T0 = datetime(2024, 1, 1, tzinfo=UTC)
SPAN_DAYS = 730  # cases are spread over two years
NOW = T0 + timedelta(days=SPAN_DAYS + 3)
# "YYYY-MM-DD" of each day from T0; datetimes are written as SQLAlchemy stores them on SQLite
# ("YYYY-MM-DD HH:MM:SS.ffffff", UTC), which PostgreSQL reads as timestamptz in a UTC session.
_DAY = [(T0 + timedelta(days=d)).strftime("%Y-%m-%d") for d in range(SPAN_DAYS + 120)]
_DAY_DIGITS = [d.replace("-", "") for d in _DAY]


def ts(sec: int) -> str:
    """Seconds after T0 as a stored timestamp string."""
    d, r = divmod(sec, 86400)
    h, r = divmod(r, 3600)
    m, s = divmod(r, 60)
    return f"{_DAY[d]} {h:02d}:{m:02d}:{s:02d}.000000"


ZH = [
    "我的订单一直没有发货",
    "快递显示已签收但我根本没有收到",
    "收到的商品外包装有明显破损",
    "申请退款已经一个星期了还没到账",
    "客服一直不回复我的消息",
    "优惠券在结算的时候无法使用",
    "衣服颜色和商品图片完全不一致",
    "尺码偏小需要换一件大一号的",
    "包裹在中转站停了好几天没有动",
    "同一笔订单被扣款两次请尽快处理",
    "质量太差了穿了一次就开线",
    "物流信息已经三天没有更新",
    "请尽快给我一个明确的答复",
    "真的非常失望",
    "这已经是我第二次联系你们了",
    "活动价格在下单时没有生效",
    "发票到现在还没有开",
    "快递员态度很差还让我自己去取",
    "箱子里少发了一件商品",
    "新买的耳机电池充不进电",
    "如果再不处理我就要投诉到消费者协会",
]
EN = [
    "my order has still not shipped",
    "the parcel shows delivered but I never received it",
    "the item arrived with a damaged box",
    "I asked for a refund a week ago and nothing happened",
    "nobody from customer service answers my emails",
    "the coupon code does not work at checkout",
    "the colour is completely different from the photos",
    "the size is too small and I need an exchange",
    "tracking has not updated for three days",
    "I was charged twice for the same order",
    "the seam came apart after one wash",
    "please reply as soon as possible",
    "very disappointed with this shop",
    "this is the second time I am writing about this",
    "the promotion price was not applied",
    "one item is missing from the box",
    "the new headphones will not charge",
    "if this is not fixed I will file a complaint",
]
SUBJECTS = ["订单问题", "退款", "投诉", "Order problem", "Refund request", "Damaged item", "Parcel?"]
COURIER_TEXTS = [
    ("failed_attempt", "派送失败：收件人不在，将于明日再次派送"),
    ("exception", "包裹异常：地址不详，请联系客服"),
    ("in_transit", "快件已到达【上海转运中心】"),
    ("delivered", "Delivered, signed by front desk"),
    ("failed_attempt", "Delivery attempted - recipient not available"),
]
CATEGORIES = ["product_quality", "logistics", "payment_refund", "customer_service", "promotion", "other"]
STATUSES_OPEN = ["new", "investigating", "contacting", "remedy"]
NAMES = ["王伟", "李娜", "张敏", "刘洋", "陈静", "杨磊", "Anna Schmidt", "John Miller", "Maria Garcia", None]
LOCALS = ["wang.wei", "lina", "zhangmin", "liu.yang", "chenjing", "yanglei", "anna", "john.m", "maria"]
DOMAINS = ["qq.com", "163.com", "gmail.com", "outlook.com", "example.cn"]
# customer channels (weights); courier messages are added to cases that have a parcel
CUSTOMER_CHANNELS = ["email"] * 55 + ["x"] * 15 + ["mastodon"] * 12 + ["voicemail"] * 18
INSTANCE = {
    "email": "mail-support",
    "x": "x-brand",
    "mastodon": "mastodon-brand",
    "voicemail": "twilio-hotline",
    "courier": "aftership",
}
CONNECTOR = {"email": "email", "x": "x", "mastodon": "mastodon", "voicemail": "twilio"}
CONNECTOR["courier"] = "aftership"


def make_texts(rng: random.Random, n: int = 4000) -> list[tuple[str, str]]:
    """(language, text) pairs of about 100 characters."""
    out: list[tuple[str, str]] = []
    for k in range(n):
        if k % 5 < 3:
            parts: list[str] = []
            while sum(len(p) + 1 for p in parts) < 70:
                parts.append(rng.choice(ZH))
            out.append(("zh", "，".join(parts) + "。"))
        else:
            parts = []
            while sum(len(p) + 2 for p in parts) < 100:
                parts.append(rng.choice(EN))
            out.append(("en", (". ".join(parts) + ".").capitalize()))
    return out


def order_numbers(case_id: int, r: float) -> list[tuple[str, str]]:
    """(display, normalised) order numbers of a case; unique per case by construction."""
    if r < 0.2:
        return []
    if case_id % 5 < 3:
        day, seq = case_id % SPAN_DAYS, case_id // SPAN_DAYS
        first = (f"HM{_DAY_DIGITS[day]}-{seq:05d}", f"HM{_DAY_DIGITS[day]}{seq:05d}")
    else:
        w = f"W{(case_id * 7654321 + 1234567) % 10**7:07d}"
        first = (w, w)
    if r < 0.9:
        return [first]
    w2 = f"W{((case_id + 5_000_000) * 7654321 + 1234567) % 10**7:07d}"
    return [first, (w2, w2)]


def tracking_number(case_id: int) -> str:
    digits = (case_id * 982451653 + 17) % 10**13
    return f"{'SF' if case_id % 2 else 'YT'}{digits:013d}"


# --------------------------------------------------------------------------- store generation

COLUMNS: dict[str, tuple[str, ...]] = {
    "customer": ("id", "name", "created_at"),
    "customer_identity": ("id", "customer_id", "kind", "value", "first_seen_at"),
    "case": (
        "id",
        "status",
        "category",
        "severity",
        "customer_id",
        "created_at",
        "updated_at",
        "last_message_at",
        "sla_due_at",
        "closed_at",
        "contact_count",
        "event_seq",
        "category_votes",
    ),
    "raw_item": (
        "id",
        "connector",
        "instance",
        "native_id",
        "received_at",
        "occurred_at",
        "content_hash",
        "size",
        "payload",
        "status",
        "attempts",
    ),
    "message": (
        "id",
        "raw_item_id",
        "connector",
        "instance",
        "native_id",
        "channel",
        "occurred_at",
        "subject",
        "text",
        "language",
        "category",
        "severity",
        "actionable",
        "customer_id",
        "case_id",
        "matched_by",
        "order_nos",
        "tracking_nos",
        "courier_status",
    ),
    "message_key": ("id", "message_id", "kind", "value"),
}
Rows = dict[str, list[tuple[Any, ...]]]


@dataclass
class Store:
    """Generates the store in steps; ids continue from step to step."""

    rng: random.Random
    texts: list[tuple[str, str]]
    cases: int = 0
    customers: int = 0
    identities: int = 0
    messages: int = 0
    keys: int = 0
    rows: int = 0

    def customer_batches(self, target: int, batch: int = 20_000) -> Iterator[Rows]:
        rnd = self.rng.random
        while self.customers < target:
            out: Rows = {"customer": [], "customer_identity": []}
            cust, idents = out["customer"], out["customer_identity"]
            for c in range(self.customers + 1, min(target, self.customers + batch) + 1):
                seen = int(rnd() * SPAN_DAYS * 86400)
                cust.append((c, NAMES[c % len(NAMES)], ts(seen)))
                local = LOCALS[c % len(LOCALS)]
                r = rnd()
                n = 1 if r < 0.35 else 2 if r < 0.75 else 3
                first = rnd()
                kinds = ["email", "phone", "handle"] if first < 0.8 else ["phone", "email", "handle"]
                if first >= 0.9:
                    kinds = ["handle", "email", "phone"]
                for kind in kinds[:n]:
                    if kind == "email":
                        value = f"{local}{c}@{DOMAINS[c % len(DOMAINS)]}"
                    elif kind == "phone":
                        value = f"+861{3 + c % 7}{(c * 982451653 + 7) % 10**9:09d}"
                    elif c % 3:
                        value = f"x:@{local.replace('.', '_')}_{c}"
                    else:
                        value = f"mastodon:@{local.replace('.', '')}{c}@mastodon.social"
                    self.identities += 1
                    idents.append((self.identities, c, kind, value, ts(seen)))
            self.customers += len(cust)
            self.rows += len(cust) + len(idents)
            yield out

    def case_batches(self, target: int, batch: int = 20_000) -> Iterator[Rows]:
        rnd, texts = self.rng.random, self.texts
        ntexts, nchan, ncat = len(texts), len(CUSTOMER_CHANNELS), len(CATEGORIES)
        recent = (SPAN_DAYS - 30) * 86400
        while self.cases < target:
            out: Rows = {name: [] for name in ("raw_item", "case", "message", "message_key")}
            raws, cases, msgs, keys = out["raw_item"], out["case"], out["message"], out["message_key"]
            mid, kid = self.messages, self.keys
            for i in range(self.cases + 1, min(target, self.cases + batch) + 1):
                cust = 1 + int(rnd() * self.customers)
                created = (i % SPAN_DAYS) * 86400 + int(rnd() * 86400)
                r = rnd()
                nmsg = 1 if r < 0.45 else 2 if r < 0.75 else 3 if r < 0.9 else 4
                orders = order_numbers(i, rnd())
                tracking = tracking_number(i) if rnd() < 0.4 else None
                category = CATEGORIES[int(rnd() * ncat)]
                severity = "severe" if rnd() < 0.15 else "general"
                first_channel = CUSTOMER_CHANNELS[int(rnd() * nchan)]
                order_json = "[" + ", ".join(f'"{d}"' for d, _ in orders) + "]"
                t = created
                for k in range(nmsg):
                    if k:
                        t += 60 + int(rnd() * 3 * 86400)
                    if k and tracking and rnd() < 0.4:
                        channel = "courier"
                    elif k == 0 or rnd() < 0.7:
                        channel = first_channel
                    else:
                        channel = CUSTOMER_CHANNELS[int(rnd() * nchan)]
                    mid += 1
                    stamp = ts(t)
                    my_keys: list[tuple[str, str]] = []
                    courier_status = subject = None
                    if channel == "courier":
                        courier_status, text = COURIER_TEXTS[mid % len(COURIER_TEXTS)]
                        lang = "zh" if text[0] > "\u2e80" else "en"
                        native = f"evt_{mid:012d}"
                        my_keys.append(("tracking", tracking))  # type: ignore[arg-type]
                        if orders and rnd() < 0.5:
                            my_keys.append(("order", orders[0][1]))
                        msg_orders = order_json if orders else "[]"
                        msg_tracking = f'["{tracking}"]'
                    else:
                        lang, text = texts[int(rnd() * ntexts)]
                        if channel == "email":
                            native = f"{mid:x}.{i}@mail.{DOMAINS[cust % len(DOMAINS)]}"
                            my_keys.append(("thread", f"email:{native}"))
                            subject = SUBJECTS[i % len(SUBJECTS)]
                            if k:
                                subject = "Re: " + subject
                        elif channel == "x":
                            native = str(1_700_000_000_000_000_000 + mid)
                            my_keys.append(("thread", f"x:{native}"))
                        elif channel == "mastodon":
                            native = str(110_000_000_000_000_000 + mid)
                            my_keys.append(("thread", f"mastodon:{native}"))
                        else:
                            native = f"TR{mid:032x}"
                        with_orders = orders and (k == 0 or rnd() < 0.5)
                        if with_orders:
                            my_keys += [("order", n) for _, n in orders]
                        msg_orders = order_json if with_orders else "[]"
                        msg_tracking = "[]"
                        if tracking and k and rnd() < 0.3:
                            my_keys.append(("tracking", tracking))
                            msg_tracking = f'["{tracking}"]'
                    conn, inst = CONNECTOR[channel], INSTANCE[channel]
                    digest = f"{mid:064x}"
                    raws.append((mid, conn, inst, native, stamp, stamp, digest, 1, b"-", "processed", 0))
                    by = '{"by": "new_case"}' if k == 0 else '{"by": "thread"}'
                    msgs.append(
                        (
                            *(mid, mid, conn, inst, native, channel, stamp, subject, text, lang, category),
                            *(severity, True, cust, i, by, msg_orders, msg_tracking, courier_status),
                        )
                    )
                    for kind, value in my_keys:
                        kid += 1
                        keys.append((kid, mid, kind, value))
                last = t
                if last < recent and rnd() < 0.9:
                    status, closed = "closed", ts(last + 86400 + int(rnd() * 2 * 86400))
                else:
                    status, closed = STATUSES_OPEN[int(rnd() * 4)], None
                due = ts(created + (4 if severity == "severe" else 48) * 3600)
                votes = f'{{"{category}": 1.0}}'
                stamps = (ts(created), ts(last), ts(last), due, closed)
                cases.append((i, status, category, severity, cust, *stamps, nmsg, nmsg + 1, votes))
            self.cases += len(cases)
            self.messages, self.keys = mid, kid
            self.rows += len(raws) + len(cases) + len(msgs) + len(keys)
            yield out

    def grow(self, loader: Loader, cases: int) -> None:
        for rows in self.customer_batches(round(cases * 0.7)):
            loader.write(rows)
        for rows in self.case_batches(cases):
            loader.write(rows)
        loader.finish_step()


# --------------------------------------------------------------------------- backends


class Loader:
    def write(self, rows: Rows) -> None:
        raise NotImplementedError

    def finish_step(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteLoader(Loader):
    """executemany on a plain sqlite3 connection (foreign keys off, no fsync while loading)."""

    def __init__(self, path: Path, analyze: bool) -> None:
        self.analyze = analyze
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("foreign_keys=OFF", "synchronous=OFF", "cache_size=-400000", "temp_store=MEMORY"):
            self.conn.execute(f"PRAGMA {pragma}")

    def write(self, rows: Rows) -> None:
        self.conn.execute("BEGIN")
        for table, data in rows.items():
            cols = COLUMNS[table]
            sql = f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})'
            self.conn.executemany(sql, data)
        self.conn.execute("COMMIT")

    def finish_step(self) -> None:
        if self.analyze:
            self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.conn.close()


class PostgresLoader(Loader):
    """COPY on a psycopg connection (FK triggers off: session_replication_role = replica)."""

    def __init__(self, conninfo: str, analyze: bool) -> None:
        import psycopg

        self.analyze = analyze
        self.conn = psycopg.connect(conninfo)
        self.conn.execute("SET TIME ZONE 'UTC'")
        try:
            self.conn.execute("SET session_replication_role = replica")
        except psycopg.Error:  # not a superuser: load with foreign key checks
            self.conn.rollback()
            self.conn.execute("SET TIME ZONE 'UTC'")
        self.conn.commit()

    def write(self, rows: Rows) -> None:
        with self.conn.cursor() as cur:
            for table, data in rows.items():
                with cur.copy(f'COPY "{table}" ({", ".join(COLUMNS[table])}) FROM STDIN') as copy:
                    for row in data:
                        copy.write_row(row)
        self.conn.commit()

    def finish_step(self) -> None:
        for table in COLUMNS:
            self.conn.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT coalesce(max(id), 1) FROM "{table}"))'
            )
        self.conn.commit()
        if self.analyze:
            self.conn.autocommit = True
            self.conn.execute("VACUUM (ANALYZE)")
            self.conn.autocommit = False

    def close(self) -> None:
        self.conn.close()


@dataclass
class Backend:
    name: str
    engine: Engine
    loader: Loader
    size_on_disk: Any
    cleanup: Any


@contextlib.contextmanager
def sqlite_backend(analyze: bool) -> Iterator[Backend]:
    tmp = Path(tempfile.mkdtemp(prefix="hub-match-bench-"))
    path = tmp / "bench.db"
    engine = make_engine(f"sqlite:///{path}")
    loader = SqliteLoader(path, analyze)

    def size() -> float:
        return sum(p.stat().st_size for p in tmp.iterdir()) / 1e6

    try:
        yield Backend(f"SQLite {sqlite3.sqlite_version}", engine, loader, size, None)
    finally:
        loader.close()
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def postgres_backend(admin_url: str, analyze: bool) -> Iterator[Backend]:
    import psycopg

    admin = make_url(admin_url)
    if admin.drivername in ("postgresql", "postgres"):
        admin = admin.set(drivername="postgresql+psycopg")
    name = f"hub_bench_{secrets.token_hex(4)}"

    def conninfo(url: Any) -> str:
        return url.set(drivername="postgresql").render_as_string(hide_password=False)

    with psycopg.connect(conninfo(admin), autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        conn.execute(f"CREATE DATABASE {name}")
    engine = loader = None
    try:
        url = admin.set(database=name)
        engine = make_engine(url.render_as_string(hide_password=False))
        loader = PostgresLoader(conninfo(url), analyze)

        def size() -> float:
            with engine.connect() as c:
                return c.execute(select(func.pg_database_size(name))).scalar_one() / 1e6

        yield Backend(f"PostgreSQL {version} (database {name})", engine, loader, size, None)
    finally:
        if loader is not None:
            loader.close()
        if engine is not None:
            engine.dispose()
        with psycopg.connect(conninfo(admin), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --------------------------------------------------------------------------- statement timing


def label(sql: str) -> str:
    """A short name for a statement the matcher (or resolve_customer) runs."""
    s = " ".join(sql.replace('"', "").split())
    if "FROM message_key JOIN message" in s and "JOIN case" in s:
        return "_by_keys: key -> message -> case"
    if s.startswith("SELECT case.id FROM case WHERE case.customer_id"):
        return "_by_customer: customer's recent cases"
    if "FROM message_key JOIN message" in s and "message.case_id IN" in s:
        return "_case_evidence: numbers of candidates"
    if s.startswith("SELECT message.case_id, message.subject, message.text"):
        return "_case_evidence: texts of candidates"
    if "FROM customer_identity" in s and s.startswith("SELECT"):
        return "resolve_customer: identity lookup"
    if s.startswith("SELECT customer.id") and "WHERE customer.id =" in s:
        return "resolve_customer: customer by id"
    if s.startswith("INSERT INTO customer_identity"):
        return "resolve_customer: insert identity"
    if s.startswith("INSERT INTO customer"):
        return "resolve_customer: insert customer"
    return s[:60]


@dataclass
class Recorder:
    """Times every statement run while ``active`` (SQLAlchemy cursor events)."""

    active: bool = False
    times: dict[str, list[float]] = field(default_factory=dict)
    slowest: dict[str, tuple[float, str, Any]] = field(default_factory=dict)

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        conn.info["bench_t0"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool) -> None:
        if not self.active:
            return
        dt = time.perf_counter() - conn.info.pop("bench_t0", time.perf_counter())
        name = label(statement)
        self.times.setdefault(name, []).append(dt)
        if dt > self.slowest.get(name, (-1.0,))[0]:
            self.slowest[name] = (dt, statement, params)


# --------------------------------------------------------------------------- probes


@dataclass
class Probe:
    kind: str  # thread | order | tracking | customer | new
    msg: ComplaintMessage
    resolve: bool


def _msg(n: int, channel: Channel, when: datetime, text: str, **kw: Any) -> ComplaintMessage:
    connector = {Channel.courier: "aftership", Channel.voicemail: "twilio"}.get(channel, channel.value)
    return ComplaintMessage(
        connector=connector,
        instance=INSTANCE[channel.value],
        native_id=f"probe-{n}",
        channel=channel,
        occurred_at=when,
        text=text,
        **kw,
    )


def make_probes(engine: Engine, rng: random.Random, texts: list[tuple[str, str]], n: int) -> list[Probe]:
    """A realistic mix of incoming messages, drawn from random places in the store."""
    kt, ct, it = MessageKeyRow.__table__, CaseRow.__table__, CustomerIdentityRow.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        max_key = conn.execute(select(func.max(kt.c.id))).scalar_one()
        max_case = conn.execute(select(func.max(ct.c.id))).scalar_one()
        key_ids = rng.sample(range(1, max_key + 1), min(max_key, 8 * n))
        by_kind: dict[str, list[str]] = {"thread": [], "order": [], "tracking": []}
        for kind, value in conn.execute(select(kt.c.kind, kt.c.value).where(kt.c.id.in_(key_ids))):
            by_kind[kind].append(value)
        case_ids = rng.sample(range(1, max_case + 1), min(max_case, 2 * n))
        cases = conn.execute(
            select(ct.c.customer_id, ct.c.last_message_at).where(ct.c.id.in_(case_ids))
        ).all()
        idents: dict[int, list[Identity]] = {}
        for cid, kind, value in conn.execute(
            select(it.c.customer_id, it.c.kind, it.c.value).where(it.c.customer_id.in_({c for c, _ in cases}))
        ):
            idents.setdefault(cid, []).append(Identity(kind=IdentityKind(kind), value=value))
    for values in by_kind.values():
        rng.shuffle(values)
    rng.shuffle(cases)
    probes: list[Probe] = []
    plan = ["thread"] * 25 + ["order"] * 25 + ["tracking"] * 15 + ["customer"] * 20 + ["new"] * 15
    for k in range(n):
        kind = plan[k % len(plan)]
        text = rng.choice(texts)[1]
        if kind == "thread":
            key = by_kind["thread"].pop()
            channel = Channel(key.split(":", 1)[0])
            own = f"{channel.value}:probe-{k}"
            msg = _msg(k, channel, NOW, text, thread_key=own, parent_keys=[key], reply_to_key=key)
        elif kind == "order":
            value = by_kind["order"].pop()
            shown = f"{value[:10]}-{value[10:]}" if value.startswith("HM") else value
            msg = _msg(k, Channel.email, NOW, text, thread_key=f"email:probe-{k}", order_nos=[shown])
        elif kind == "tracking":
            value = by_kind["tracking"].pop()
            channel = Channel.courier if k % 2 else Channel.email
            msg = _msg(k, channel, NOW, text, tracking_nos=[value])
        elif kind == "customer":
            cid, last = cases.pop()
            ids = idents[cid]
            ident = ids[k % len(ids)]
            channel = {IdentityKind.phone: Channel.voicemail, IdentityKind.email: Channel.email}.get(
                ident.kind, Channel.x if ident.value.startswith("x:") else Channel.mastodon
            )
            when = last + timedelta(seconds=3600 + rng.randrange(5 * 86400))
            msg = _msg(k, channel, when, text, identities=[ident])
        else:
            orders = [f"HM{_DAY_DIGITS[k % SPAN_DAYS]}-9{k:04d}"] if k % 2 else []
            ident = Identity(kind=IdentityKind.email, value=f"new.{k}.{rng.randrange(10**9)}@probe.example")
            msg = _msg(
                k, Channel.email, NOW, text, identities=[ident], order_nos=orders, thread_key=f"email:p{k}"
            )
        probes.append(Probe(kind, msg, resolve=kind in ("customer", "new")))
    return probes


def match_one(engine: Engine, probe: Probe, settings: MatchingSettings) -> tuple[float, str]:
    """Seconds to resolve (when needed) and match one message; the transaction is rolled back."""
    with Session(engine) as session:
        session.connection()  # begin outside the timing
        t0 = time.perf_counter()
        customer_id = None
        if probe.resolve:
            msg = probe.msg
            row = resolve_customer(session, msg.identities, name=msg.customer_name, seen_at=msg.occurred_at)
            customer_id = row.id if row else None
        decision = Matcher(session, settings).match(probe.msg, customer_id)
        elapsed = time.perf_counter() - t0
        session.rollback()
    return elapsed, decision.by if decision else "none"


# --------------------------------------------------------------------------- plans


def explain(engine: Engine, statement: str, params: Any) -> list[str]:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if engine.dialect.name == "sqlite":
            cur.execute("EXPLAIN QUERY PLAN " + statement, params)
            return [f"{'  ' * _depth(rows, r)}{r[3]}" for rows in [cur.fetchall()] for r in rows]
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, SUMMARY OFF) " + statement, params)
        return [r[0] for r in cur.fetchall()]
    finally:
        raw.rollback()
        raw.close()


def _depth(rows: Sequence[Any], row: Any) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, node = 0, row[1]
    while node in parents:
        depth, node = depth + 1, parents[node]
    return depth


def unindexed(plan: list[str]) -> list[str]:
    bad = re.compile(r"^\s*(->\s*)?Seq Scan|^\s*SCAN (?!.*USING|CONSTANT ROW)")
    return [line.strip() for line in plan if bad.search(line)]


# --------------------------------------------------------------------------- main


def short(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


GROWTH_LIMIT = 1.5  # largest-size median at most this times the smallest-size median


def _table(title: str, rows: dict[str, dict[int, float]], sizes: list[int], width: int = 42) -> list[str]:
    """Rows of medians per size, with the largest/smallest ratio; rows over the limit are marked."""
    first, last = sizes[0], sizes[-1]
    out = [f"{title}:", f"  {'':<{width}}" + "".join(f"{short(s):>9}" for s in sizes) + f"{'ratio':>8}"]
    for name, by_size in rows.items():
        cells = "".join(f"{by_size[s]:>9.3f}" if s in by_size else f"{'-':>9}" for s in sizes)
        growth = by_size[last] / by_size[first] if first in by_size and last in by_size else None
        mark = f"{growth:>8.2f}" if growth is not None else f"{'-':>8}"
        if growth is not None and growth > GROWTH_LIMIT and len(sizes) > 1:
            mark += "   <-- grows with the store"
        out.append(f"  {name:<{width}}{cells}{mark}")
    return out


def run(backend: Backend, sizes: list[int], n_probes: int, seed: int, plans: bool) -> bool:
    """Grow, probe and report one backend; True when the cost per message stays flat."""
    print(f"\n== {backend.name}", flush=True)
    rng = random.Random(seed)
    texts = make_texts(rng)
    store = Store(rng, texts)
    recorder = Recorder()
    recorder.attach(backend.engine)
    settings = MatchingSettings()
    header = (
        f"{'cases':>10} {'store rows':>11} {'build s':>8} {'db MB':>7} {'median ms':>10} {'p95 ms':>8}"
        "   decisions"
    )
    medians: dict[int, float] = {}
    per_kind: dict[str, dict[int, float]] = {}
    per_query: dict[str, dict[int, float]] = {}
    lines = [header]
    print(header, flush=True)
    for size in sizes:
        t0 = time.perf_counter()
        store.grow(backend.loader, size)
        build = time.perf_counter() - t0
        probe_rng = random.Random(seed * 1000 + size)
        for probe in make_probes(backend.engine, probe_rng, texts, 30):  # warm-up, not timed
            match_one(backend.engine, probe, settings)
        probes = make_probes(backend.engine, probe_rng, texts, n_probes)
        recorder.times.clear()
        recorder.slowest.clear()
        recorder.active = True
        times: list[float] = []
        kind_times: dict[str, list[float]] = {}
        decisions: dict[str, int] = {}
        for probe in probes:
            elapsed, by = match_one(backend.engine, probe, settings)
            times.append(elapsed * 1000)
            kind_times.setdefault(probe.kind, []).append(elapsed * 1000)
            decisions[by] = decisions.get(by, 0) + 1
        recorder.active = False
        for name, values in recorder.times.items():
            per_query.setdefault(name, {})[size] = statistics.median(values) * 1000
        for kind, values in kind_times.items():
            per_kind.setdefault(f"{kind} ({len(values)} probes)", {})[size] = statistics.median(values)
        med, p95 = statistics.median(times), pct(times, 0.95)
        medians[size] = med
        shown = ", ".join(f"{k} {v}" for k, v in sorted(decisions.items()))
        line = (
            f"{size:>10,} {store.rows:>11,} {build:>8.1f} {backend.size_on_disk():>7.0f} {med:>10.2f}"
            f" {p95:>8.2f}   {shown}"
        )
        lines.append(line)
        print(line, flush=True)
    print()
    print("\n".join(_table("median ms per message, by kind of message", per_kind, sizes)))
    print("\n".join(_table("median ms per statement execution", dict(sorted(per_query.items())), sizes)))
    if plans:
        print(f"\nplans at {short(sizes[-1])} cases (of each statement's slowest execution):")
        for name in sorted(per_query):
            _, statement, params = recorder.slowest[name]
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            plan = explain(backend.engine, statement, params)
            flag = unindexed(plan)
            print(f"  -- {name}{'   <-- NOT INDEX-BACKED: ' + '; '.join(flag) if flag else ''}")
            for row in plan:
                print(f"     {row}")
    print("\n" + "\n".join(lines))
    if len(sizes) < 2:
        return True
    first, last = sizes[0], sizes[-1]
    ratio = medians[last] / medians[first]
    tag = f"{short(last)}/{short(first)}"
    print(f"ratio {tag}: {ratio:.2f} (target <= {GROWTH_LIMIT}) {'ok' if ratio <= GROWTH_LIMIT else 'FAIL'}")
    worst = max(per_kind, key=lambda k: per_kind[k][last] / per_kind[k][first])
    worst_ratio = per_kind[worst][last] / per_kind[worst][first]
    verdict = "ok" if worst_ratio <= GROWTH_LIMIT else "FAIL"
    print(f"worst kind of message {tag}: {worst} {worst_ratio:.2f} {verdict}", flush=True)
    return ratio <= GROWTH_LIMIT and worst_ratio <= GROWTH_LIMIT


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="case counts, comma-separated")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("HUB_BENCH_POSTGRES_URL", DEFAULT_PG_URL),
        help="server to create the throw-away database on (env HUB_BENCH_POSTGRES_URL)",
    )
    parser.add_argument("--probes", type=int, default=300, help="messages matched per size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-plans", action="store_true", help="do not print the query plans")
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="no ANALYZE after growing (the hub itself never runs it): plans without statistics",
    )
    args = parser.parse_args()
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    started = time.perf_counter()
    failed = False
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for name in backends:
        t0 = time.perf_counter()
        analyze = not args.no_analyze
        ctx = sqlite_backend(analyze) if name == "sqlite" else postgres_backend(args.postgres_url, analyze)
        with ctx as backend:
            failed |= not run(backend, sizes, args.probes, args.seed, not args.no_plans)
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak_mb:.0f} MB; total {time.perf_counter() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
