"""Statistics: counts per category, channel and severity by day/month/quarter/year, handling time,
SLA compliance and repeat contacts; JSON and CSV from the API."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from hub.config import HubConfig
from hub.db import session_scope
from hub.lifecycle import Lifecycle, Resolution
from hub.stats import StatsError, compute_stats, parse_day, stats_csv
from tests.api.conftest import Hub
from tests.api.helpers import customer, make_case

JAN = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
APR = datetime(2026, 4, 2, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.fixture
def store(sqlite_engine: Engine) -> Engine:
    config = HubConfig()
    with session_scope(sqlite_engine) as s:
        repeat = customer(s, "Repeat")
        # January: closed in 2 h (in time), closed in 60 h (late: general is due in 48 h), a repeat contact
        a = make_case(s, config, at=JAN, category="logistics", channel="email", customer_id=repeat)
        b = make_case(s, config, at=JAN + timedelta(days=1), category="logistics", channel="voicemail")
        c = make_case(s, config, at=JAN + timedelta(days=2), severity="severe", channel="x", follow_ups=2)
        Lifecycle(s, config, "alice", now=JAN + timedelta(hours=2)).change_status(
            a, "closed", resolution=Resolution("resent", "ok")
        )
        Lifecycle(s, config, "alice", now=JAN + timedelta(days=1, hours=60)).change_status(
            b, "closed", resolution=Resolution("refund", "ok")
        )
        assert c.contact_count == 3
        # April: one open case of the same customer, not yet due on NOW? (due 48 h after APR: overdue)
        make_case(s, config, at=APR, category="promotion", channel="mastodon", customer_id=repeat)
    return sqlite_engine


def test_counts_by_period_and_dimension(store: Engine) -> None:
    with Session(store) as s:
        month = compute_stats(s, period="month", now=NOW)
        quarter = compute_stats(s, period="quarter", now=NOW)
        year = compute_stats(s, period="year", now=NOW)
        day = compute_stats(s, period="day", now=NOW)
    assert [b["period"] for b in month["buckets"]] == ["2026-01", "2026-04"]
    assert [b["period"] for b in quarter["buckets"]] == ["2026-Q1", "2026-Q2"]
    assert [(b["period"], b["cases"]) for b in year["buckets"]] == [("2026", 4)]
    assert [b["period"] for b in day["buckets"]] == ["2026-01-15", "2026-01-16", "2026-01-17", "2026-04-02"]
    jan = month["buckets"][0]
    assert jan["cases"] == 3 and jan["closed"] == 2
    assert jan["by_category"]["logistics"] == 2 and jan["by_category"]["product_quality"] == 1
    assert jan["by_channel"] == {"email": 1, "mastodon": 0, "x": 1, "voicemail": 1, "courier": 0}
    assert jan["by_severity"] == {"severe": 1, "general": 2}
    totals = month["totals"]
    assert totals["cases"] == 4 and totals["by_channel"]["mastodon"] == 1


def test_handling_time_sla_and_repeat_contacts(store: Engine) -> None:
    with Session(store) as s:
        doc = compute_stats(s, now=NOW)
    totals = doc["totals"]
    assert totals["handling_hours"] == {"count": 2, "average": 31.0, "median": 31.0}
    # met: a (2 h); breached: b (closed after 60 h), c (severe, open, overdue), the April case (overdue)
    assert totals["sla"] == {"met": 1, "breached": 3, "compliance": 0.25}
    assert totals["repeat_contact_rate"] == 0.25  # c wrote three times; a, b, April once
    assert totals["customers"] == 1 and totals["repeat_customer_rate"] == 1.0


def test_date_range_and_time_zone(store: Engine) -> None:
    with Session(store) as s:
        jan = compute_stats(s, start=parse_day("2026-01-01"), end=parse_day("2026-01-31", end=True), now=NOW)
        assert jan["totals"]["cases"] == 3
        shanghai = compute_stats(s, period="day", tz="Asia/Shanghai", now=NOW)
        assert shanghai["buckets"][0]["period"] == "2026-01-15"  # 10:00 UTC is 18:00 in Shanghai
        with pytest.raises(StatsError, match="time zone"):
            compute_stats(s, tz="Mars/Olympus")
        with pytest.raises(StatsError, match="after its start"):
            compute_stats(s, start=parse_day("2026-02-01"), end=parse_day("2026-01-01"))
    with pytest.raises(StatsError, match="not a date"):
        parse_day("last tuesday")


def test_csv_has_one_row_per_figure(store: Engine) -> None:
    with Session(store) as s:
        text = stats_csv(compute_stats(s, now=NOW))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert set(rows[0]) == {"period", "dimension", "key", "value"}
    by = {(r["period"], r["dimension"], r["key"]): r["value"] for r in rows}
    assert by[("all", "cases", "total")] == "4"
    assert by[("2026-01", "category", "logistics")] == "2"
    assert by[("all", "sla", "compliance")] == "0.25"
    assert by[("all", "handling_hours", "median")] == "31.0"


def test_stats_api_json_and_csv(hub: Hub) -> None:
    auth = hub.team.auth("alice")
    doc = hub.client.get("/api/stats?period=day&tz=Asia/Shanghai", headers=auth)
    assert doc.status_code == 200 and doc.json()["totals"]["cases"] == 4
    assert doc.json()["buckets"][0]["period"] == "2026-11-02"
    csv_reply = hub.client.get("/api/stats?format=csv&period=year", headers=auth)
    assert csv_reply.status_code == 200 and csv_reply.headers["content-type"].startswith("text/csv")
    assert (
        csv_reply.text.startswith("period,dimension,key,value\n")
        and "\n2026,cases,total,4\n" in csv_reply.text
    )
    assert hub.client.get("/api/stats?period=week", headers=auth).status_code == 422
    assert hub.client.get("/api/stats?tz=Nowhere/Else", headers=auth).status_code == 422
    ranged = hub.client.get("/api/stats?from=2026-11-03&to=2026-11-30", headers=auth).json()
    assert ranged["totals"]["cases"] < 4
