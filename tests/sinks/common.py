"""Helpers shared by the sink tests: the store's outbox and cases, sample deliveries, and ticket assertions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from hub.cases import CaseService
from hub.config import DeliverySettings, HubConfig
from hub.db import session_scope
from hub.export import iter_case_documents
from hub.mapping import load_mapping
from hub.sink import Delivery
from hub.tables import CaseRow, OutboxRow


def outbox_rows(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxRow).order_by(col(OutboxRow.id))).all())


def case_documents(engine: Engine) -> dict[str, dict[str, Any]]:
    with Session(engine) as s:
        return {d["case_id"]: d for d in iter_case_documents(s)}


def delivery(n: int, case_id: str, fields: dict[str, Any], external_id: str | None = None) -> Delivery:
    return Delivery(
        outbox_id=n,
        event_id=f"evt_{n:032x}",
        type="case.created",
        sequence=1,
        case_id=case_id,
        occurred_at="2026-11-02T02:00:00Z",
        case={},
        fields=fields,
        external_id=external_id,
    )


MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"
MARKER = re.compile(r"\[hub (C-\d+) #(\d+) (evt_\w+)\]")

SAMPLE_CASE: dict[str, Any] = {
    "case_id": "C-000042",
    "status": "contacting",
    "category": "product_quality",
    "severity": "severe",
    "created_at": "2026-11-02T02:00:00Z",
    "updated_at": "2026-11-03T02:00:00Z",
    "sla_due_at": "2026-11-02T06:00:00Z",
    "customer": {
        "name": "Chen Mei",
        "emails": ["mei.chen@example.cn"],
        "phones": ["+8613912345678"],
        "handles": [],
    },
    "order_nos": ["HM20261101-20001"],
    "tracking_nos": ["SF1234567890123"],
    "messages": [
        {
            "connector": "email",
            "native_id": "a1@mail.example.cn",
            "channel": "email",
            "received_at": "2026-11-02T02:00:00Z",
            "text": "订单号 HM20261101-20001 的电水壶漏水\n陈美",
            "order_nos": ["HM20261101-20001"],
            "tracking_nos": [],
            "matched_by": "new_case",
        },
        {
            "connector": "twilio",
            "native_id": "TR1",
            "channel": "voicemail",
            "received_at": "2026-11-03T02:00:00Z",
            "text": "水壶漏水 一直没有人处理",
            "order_nos": [],
            "tracking_nos": [],
            "matched_by": "customer",
        },
    ],
}


# -- shared helpers (the ERPNext and Odoo tests import them) ---------------------------------------
def settings(**delivery: Any) -> DeliverySettings:
    return DeliverySettings(
        backoff_seconds=0.01, backoff_max_seconds=0.05, breaker_cooldown_seconds=0.05, **delivery
    )


def sample_delivery(
    fields: dict[str, Any],
    *,
    type_: str = "case.updated",
    sequence: int = 2,
    external_id: str | None = None,
    data: dict[str, Any] | None = None,
    event_id: str = "evt_0123456789abcdef",
) -> Delivery:
    return Delivery(
        outbox_id=1,
        event_id=event_id,
        type=type_,
        sequence=sequence,
        case_id=SAMPLE_CASE["case_id"],
        occurred_at="2026-11-03T02:00:00Z",
        case=SAMPLE_CASE,
        fields=fields,
        external_id=external_id,
        data=data if data is not None else {"message_id": 8, "matched_by": "customer"},
    )


def render(sink: str, case: dict[str, Any] = SAMPLE_CASE) -> dict[str, Any]:
    meta = {"type": "case.created", "sequence": 1, "event_id": "evt_x", "occurred_at": case["created_at"]}
    return load_mapping(MAPPINGS / f"{sink}.yaml", sink_type=sink).render(case, meta)


def events_per_case(engine: Engine) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for r in outbox_rows(engine):
        out.setdefault(f"C-{r.case_id:06d}", []).append(r.sequence)
    return {k: sorted(v) for k, v in out.items()}


def merge_second_into_first(engine: Engine, config: HubConfig) -> None:
    """More events to deliver in order: C-000002 merged into C-000001 (an event on each)."""
    with session_scope(engine) as s:
        keep, gone = s.get(CaseRow, 1), s.get(CaseRow, 2)
        assert keep is not None and gone is not None
        CaseService(s, config).merge(keep, gone, actor="test", at=datetime(2026, 11, 5, tzinfo=UTC))


def sequences(comments: list[str], case_id: str) -> list[int]:
    """The event sequences named by the hub's markers in these comments, in order."""
    out = []
    for text in comments:
        m = MARKER.search(text)
        if m:
            assert m.group(1) == case_id, (case_id, text)
            out.append(int(m.group(2)))
    return out


def assert_no_secrets(engine: Engine, caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    for row in outbox_rows(engine):
        for secret in secrets:
            assert secret not in (row.last_error or "")
    for secret in secrets:
        assert secret not in caplog.text


# -- Zendesk fixtures -----------------------------------------------------------------------------
