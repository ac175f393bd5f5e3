"""Complaint statistics, as the business's complaint records rules ask for them.

Counted over cases (merged-away cases are not counted twice) created in a date
range, bucketed by day, month, quarter or year in a chosen time zone:

- counts per category, per channel (the channel of the case's first customer
  message; courier for proactive cases) and per severity;
- handling time of closed cases (first message to close): average and median;
- SLA compliance: closed in time / (closed in time + closed late + open and
  overdue); open cases not yet due are not counted either way;
- repeat-contact rate: cases where the customer wrote more than once about the
  same problem, over cases with at least one customer contact; and the share of
  customers with more than one case.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from hub.models import CaseStatus, Category, Channel, Severity, utc
from hub.tables import CaseRow, MessageRow

__all__ = ["Period", "StatsError", "compute_stats", "stats_csv"]


class Period(StrEnum):
    day = "day"
    month = "month"
    quarter = "quarter"
    year = "year"


class StatsError(ValueError):
    """A bad statistics request (unknown time zone, range the wrong way round)."""


def bucket(moment: datetime, period: Period, tz: ZoneInfo) -> str:
    local = utc(moment).astimezone(tz)
    if period is Period.day:
        return local.strftime("%Y-%m-%d")
    if period is Period.month:
        return local.strftime("%Y-%m")
    if period is Period.quarter:
        return f"{local.year}-Q{(local.month - 1) // 3 + 1}"
    return str(local.year)


@dataclass
class _Acc:
    cases: int = 0
    closed: int = 0
    by_category: Counter[str] = field(default_factory=Counter)
    by_channel: Counter[str] = field(default_factory=Counter)
    by_severity: Counter[str] = field(default_factory=Counter)
    handling: list[float] = field(default_factory=list)
    sla_met: int = 0
    sla_breached: int = 0
    contacted: int = 0
    repeat: int = 0

    def doc(self) -> dict[str, Any]:
        return {
            "cases": self.cases,
            "closed": self.closed,
            "by_category": {c.value: self.by_category.get(c.value, 0) for c in Category},
            "by_channel": {c.value: self.by_channel.get(c.value, 0) for c in Channel},
            "by_severity": {s.value: self.by_severity.get(s.value, 0) for s in Severity},
            "handling_hours": _handling(self.handling),
            "sla": {
                "met": self.sla_met,
                "breached": self.sla_breached,
                "compliance": _ratio(self.sla_met, self.sla_met + self.sla_breached),
            },
            "repeat_contact_rate": _ratio(self.repeat, self.contacted),
        }


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _handling(hours: list[float]) -> dict[str, Any]:
    return {
        "count": len(hours),
        "average": round(statistics.fmean(hours), 2) if hours else None,
        "median": round(statistics.median(hours), 2) if hours else None,
    }


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown time zone {name!r} (like UTC or Asia/Shanghai)"
        raise StatsError(msg) from None


def _opening_channels(session: Session, start: datetime | None, end: datetime | None) -> dict[int, str]:
    """The channel of each case's first customer message (courier when it has none)."""
    query = select(MessageRow.case_id, MessageRow.channel, MessageRow.occurred_at, MessageRow.id).join(
        CaseRow, col(CaseRow.id) == MessageRow.case_id
    )
    if start is not None:
        query = query.where(col(CaseRow.created_at) >= start)
    if end is not None:
        query = query.where(col(CaseRow.created_at) < end)
    first: dict[int, tuple[bool, datetime, int, str]] = {}
    for case_id, channel, at, mid in session.exec(query).all():
        assert case_id is not None and mid is not None
        key = (channel == Channel.courier.value, utc(at), mid, channel)
        if case_id not in first or key < first[case_id]:
            first[case_id] = key
    return {cid: k[3] for cid, k in first.items()}


def compute_stats(
    session: Session,
    *,
    period: Period | str = Period.month,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: str = "UTC",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Statistics over cases created in ``[start, end)`` (either may be open), bucketed by ``period``."""
    period = Period(period)
    zone = _zone(tz)
    now = utc(now) if now else datetime.now(UTC)
    start = utc(start) if start else None
    end = utc(end) if end else None
    if start and end and end <= start:
        msg = "the end of the range must be after its start"
        raise StatsError(msg)
    query = sa_select(
        col(CaseRow.id),
        col(CaseRow.created_at),
        col(CaseRow.closed_at),
        col(CaseRow.status),
        col(CaseRow.category),
        col(CaseRow.severity),
        col(CaseRow.sla_due_at),
        col(CaseRow.contact_count),
        col(CaseRow.customer_id),
    ).where(col(CaseRow.merged_into_id).is_(None))
    if start is not None:
        query = query.where(col(CaseRow.created_at) >= start)
    if end is not None:
        query = query.where(col(CaseRow.created_at) < end)
    channels = _opening_channels(session, start, end)
    total = _Acc()
    buckets: dict[str, _Acc] = defaultdict(_Acc)
    per_customer: Counter[int] = Counter()
    for (
        cid,
        created,
        closed_at,
        status,
        category,
        severity,
        due,
        contacts,
        customer,
    ) in session.connection().execute(query):
        assert cid is not None
        acc = buckets[bucket(created, period, zone)]
        channel = channels.get(cid, "unknown")
        closed = status == CaseStatus.closed.value and closed_at is not None
        hours = (utc(closed_at) - utc(created)).total_seconds() / 3600 if closed and closed_at else None
        met = breached = 0
        if due is not None:
            if closed and closed_at is not None:
                met, breached = (1, 0) if utc(closed_at) <= utc(due) else (0, 1)
            elif utc(due) < now:
                breached = 1
        if customer is not None:
            per_customer[customer] += 1
        for a in (acc, total):
            a.cases += 1
            a.by_category[category] += 1
            a.by_channel[channel] += 1
            a.by_severity[severity] += 1
            if hours is not None:
                a.closed += 1
                a.handling.append(hours)
            a.sla_met += met
            a.sla_breached += breached
            if contacts >= 1:
                a.contacted += 1
                a.repeat += contacts >= 2
    doc = total.doc()
    customers = len(per_customer)
    return {
        "period": period.value,
        "tz": tz,
        "from": start.isoformat().replace("+00:00", "Z") if start else None,
        "to": end.isoformat().replace("+00:00", "Z") if end else None,
        "generated_at": now.isoformat().replace("+00:00", "Z"),
        "totals": {
            **doc,
            "customers": customers,
            "repeat_customer_rate": _ratio(sum(1 for n in per_customer.values() if n > 1), customers),
        },
        "buckets": [{"period": key, **buckets[key].doc()} for key in sorted(buckets)],
    }


def stats_csv(stats: dict[str, Any]) -> str:
    """The statistics as long-format CSV: ``period,dimension,key,value`` (``all`` for the totals)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["period", "dimension", "key", "value"])
    rows = [("all", stats["totals"])] + [(b["period"], b) for b in stats["buckets"]]
    for name, doc in rows:
        writer.writerow([name, "cases", "total", doc["cases"]])
        writer.writerow([name, "cases", "closed", doc["closed"]])
        for dim in ("category", "channel", "severity"):
            for key, value in doc[f"by_{dim}"].items():
                writer.writerow([name, dim, key, value])
        for key in ("average", "median", "count"):
            writer.writerow([name, "handling_hours", key, _cell(doc["handling_hours"][key])])
        for key in ("met", "breached", "compliance"):
            writer.writerow([name, "sla", key, _cell(doc["sla"][key])])
        writer.writerow([name, "repeat_contact_rate", "", _cell(doc["repeat_contact_rate"])])
    writer.writerow(["all", "repeat_customer_rate", "", _cell(stats["totals"]["repeat_customer_rate"])])
    return out.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def parse_day(value: str | None, tz: str = "UTC", *, end: bool = False) -> datetime | None:
    """``YYYY-MM-DD`` (local midnight in ``tz``) or a full ISO time; ``end`` makes a day inclusive."""
    if not value:
        return None
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).replace(tzinfo=_zone(tz))
            return utc(day + timedelta(days=1) if end else day)
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        msg = f"{value!r} is not a date (YYYY-MM-DD) or an ISO time"
        raise StatsError(msg) from None
