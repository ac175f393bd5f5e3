"""Kuaidi100 connector: subscription pushes to courier messages."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from connectors.kuaidi100 import Kuaidi100Connector
from hub.errors import ParseError
from hub.models import Channel, CourierStatus
from tests.connectors.corpus import dev_captures

RECEIVED = datetime(2026, 8, 15, 1, 13, 14, tzinfo=UTC)

PUSH: dict[str, Any] = {
    "status": "polling",
    "billstatus": "got",
    "message": "",
    "autoCheck": "0",
    "comOld": "",
    "comNew": "",
    "lastResult": {
        "message": "ok",
        "nu": "7831209847556",
        "ischeck": "0",
        "condition": "F00",
        "com": "zhongtong",
        "status": "200",
        "state": "5",
        "data": [
            {
                "context": "【上海市】派件员【周师傅】正在派件",
                "time": "2026-08-15 09:10:44",
                "ftime": "2026-08-15 09:10:44",
            },
            {
                "context": "【上海市】快件已到达【上海中转部】",
                "time": "2026-08-14 23:40:05",
                "ftime": "2026-08-14 23:40:05",
            },
        ],
    },
}


def push(**last_overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(PUSH)
    body["lastResult"].update(last_overrides)
    return body


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def split_one(data: bytes) -> Any:
    items = Kuaidi100Connector().split_capture(data, instance="t", received_at=RECEIVED, source="k.json")
    assert len(items) == 1
    return items[0]


def test_split_capture_native_id_and_china_time() -> None:
    raw = split_one(encode(push()))
    assert raw.native_id == "7831209847556@2026-08-15 09:10:44"
    assert raw.occurred_at == datetime(2026, 8, 15, 1, 10, 44, tzinfo=UTC)  # 09:10:44 +08:00


def test_parse_courier_fields() -> None:
    message = Kuaidi100Connector().parse(split_one(encode(push())))
    assert message.channel is Channel.courier
    assert message.text == "【上海市】派件员【周师傅】正在派件"
    assert message.tracking_nos == ["7831209847556"]
    assert message.order_nos == []
    courier = message.courier
    assert courier is not None
    assert courier.carrier == "ZTO"
    assert courier.tracking_no == "7831209847556"
    assert courier.status is CourierStatus.out_for_delivery
    assert courier.detail == "派件"
    assert courier.last_event == "【上海市】派件员【周师傅】正在派件"
    assert courier.last_event_at == datetime(2026, 8, 15, 1, 10, 44, tzinfo=UTC)
    assert message.occurred_at == datetime(2026, 8, 15, 1, 10, 44, tzinfo=UTC)
    assert message.actionable and message.category is None


@pytest.mark.parametrize(
    ("state", "status", "detail"),
    [
        ("0", CourierStatus.in_transit, "在途"),
        ("1", CourierStatus.in_transit, "揽收"),
        ("2", CourierStatus.exception, "疑难"),
        ("3", CourierStatus.delivered, "签收"),
        ("4", CourierStatus.returned, "退签"),
        ("6", CourierStatus.returned, "退回"),
        ("7", CourierStatus.in_transit, "转投"),
        ("8", CourierStatus.in_transit, "清关"),
        ("13", CourierStatus.exception, "清关异常"),
        ("14", CourierStatus.returned, "拒签"),
        ("501", CourierStatus.available_for_pickup, "投柜或驿站"),
        ("204", CourierStatus.failed_attempt, "派件异常"),
        ("399", CourierStatus.delivered, "签收"),  # unlisted sub-state: its main state
        ("99", CourierStatus.unknown, "state 99"),
    ],
)
def test_state_mapping(state: str, status: CourierStatus, detail: str) -> None:
    message = Kuaidi100Connector().parse(split_one(encode(push(state=state))))
    assert message.courier is not None
    assert (message.courier.status, message.courier.detail) == (status, detail)


def test_push_with_empty_data() -> None:
    body = push(data=[], state="0")
    body.update(status="abort", message="3天查询无记录")
    raw = split_one(encode(body))
    assert raw.native_id.startswith("7831209847556@empty:")
    assert raw.native_id == split_one(encode(body)).native_id  # deterministic
    assert raw.occurred_at is None
    message = Kuaidi100Connector().parse(raw)
    assert message.occurred_at == RECEIVED
    assert message.text == "3天查询无记录"
    assert message.courier is not None and message.courier.last_event is None
    assert message.extra["push_status"] == "abort"
    assert message.extra["monitoring_stopped"] is True
    assert message.extra["no_trace"] is True


def test_form_encoded_push_and_corrected_company() -> None:
    body = push()
    body.update(autoCheck="1", comOld="yuantong", comNew="zhongtong")
    body["lastResult"]["com"] = "yuantong"
    data = urlencode({"param": json.dumps(body, ensure_ascii=False), "sign": "ABC"}).encode("ascii")
    raw = split_one(data)
    assert raw.native_id == "7831209847556@2026-08-15 09:10:44"
    message = Kuaidi100Connector().parse(raw)
    assert message.courier is not None and message.courier.carrier == "ZTO"


def test_unknown_company_passes_through() -> None:
    message = Kuaidi100Connector().parse(split_one(encode(push(com="somenewco"))))
    assert message.courier is not None and message.courier.carrier == "somenewco"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"status": "polling",\n "lastResult": {"nu": "SF1', "truncated JSON at line 2 column 27"),
        (b"", "empty file"),
        (b'{"status": "polling", "message": "ok"}', "not a Kuaidi100 push: no lastResult.nu"),
        (b'{"lastResult": {"nu": "1", "data": {}}}', "Kuaidi100 push: lastResult.data is not an array"),
        (b"param=%7B%22lastResult%22", "truncated JSON at line 1 column 14"),
        (b"sign=ABC", "form body without a 'param' field"),
        (
            b'{"lastResult": {"nu": "1", "data": [{"ftime": "15/08/2026"}]}}',
            "lastResult.data[0].ftime: unreadable time '15/08/2026'",
        ),
    ],
)
def test_split_capture_errors(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        Kuaidi100Connector().split_capture(data, instance="t", received_at=RECEIVED)
    assert str(info.value) == reason


def test_parse_rejects_bad_payload() -> None:
    raw = split_one(encode(push())).model_copy(update={"payload": b"[]"})
    with pytest.raises(ParseError, match="Kuaidi100 push: expected a JSON object, got array"):
        Kuaidi100Connector().parse(raw)


def _plain(number: str) -> str:
    return re.sub(r"[\s-]", "", number).upper()


@pytest.mark.corpus
def test_dev_corpus_native_ids_and_tracking_numbers_match_labels(dev_corpus: Path) -> None:
    """Every dev capture splits and parses; native ids are exactly the labelled ones."""
    labels, items = dev_captures(dev_corpus, "kuaidi100")
    connector = Kuaidi100Connector()
    for raw, received in items:
        message = connector.parse(raw)
        label = labels[raw.native_id]
        if label.get("tracking_no"):
            assert [_plain(t) for t in message.tracking_nos] == [_plain(label["tracking_no"])]
        assert raw.occurred_at is not None and raw.occurred_at <= received
        assert message.courier is not None and message.courier.status is not CourierStatus.unknown
    assert sorted(raw.native_id for raw, _ in items) == sorted(labels)
