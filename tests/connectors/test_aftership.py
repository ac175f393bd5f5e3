"""AfterShip connector: tracking webhooks to courier messages."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.aftership import AfterShipConnector
from hub.errors import ConfigError, ParseError
from hub.models import Channel, CourierStatus, Identity, IdentityKind
from tests.connectors.corpus import dev_captures

RECEIVED = datetime(2026, 9, 2, 17, 40, tzinfo=UTC)

WEBHOOK: dict[str, Any] = {
    "event": "tracking_update",
    "event_id": "0b5b2e0e-1111-4222-8333-444455556666",
    "is_tracking_first_tag": True,
    "msg": {
        "id": "trk-1",
        "tracking_number": " 9205 5901 6491 7312 ",
        "slug": "usps",
        "title": "order-1",
        "order_id": " w2608377 ",
        "customer_name": "Michael B.",
        "emails": ["M.Brennan@Example.com"],
        "smses": ["+16145550152"],
        "tag": "AttemptFail",
        "subtag": "AttemptFail_002",
        "subtag_message": "Addressee not available",
        "updated_at": "2026-09-02T17:33:21+00:00",
        "checkpoints": [
            {
                "checkpoint_time": "2026-09-01T08:00:00-04:00",
                "message": "Arrived at Post Office",
                "location": "COLUMBUS, OH",
                "tag": "InTransit",
            },
            {
                "checkpoint_time": "2026-09-02T13:10:00-04:00",
                "message": "Notice Left (No Authorized Recipient Available)",
                "location": "COLUMBUS, OH",
                "tag": "AttemptFail",
            },
        ],
    },
    "ts": 1788370401,
}


def webhook(**msg_overrides: Any) -> dict[str, Any]:
    body = copy.deepcopy(WEBHOOK)
    for key, value in msg_overrides.items():
        if value is None:
            body["msg"].pop(key, None)
        else:
            body["msg"][key] = value
    return body


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def split_one(value: Any, connector: AfterShipConnector | None = None) -> Any:
    items = (connector or AfterShipConnector()).split_capture(
        encode(value), instance="t", received_at=RECEIVED, source="w.json"
    )
    assert len(items) == 1
    return items[0]


def test_split_capture_native_id_and_time() -> None:
    raw = split_one(webhook())
    assert raw.native_id == "0b5b2e0e-1111-4222-8333-444455556666"
    assert raw.occurred_at == datetime(2026, 9, 2, 17, 33, 21, tzinfo=UTC)


def test_parse_courier_fields() -> None:
    message = AfterShipConnector().parse(split_one(webhook()))
    assert message.channel is Channel.courier
    courier = message.courier
    assert courier is not None
    assert courier.carrier == "usps"
    assert courier.tracking_no == "9205590164917312"
    assert courier.status is CourierStatus.failed_attempt
    assert courier.detail == "Addressee not available"
    assert courier.last_event == "Notice Left (No Authorized Recipient Available)"
    assert courier.last_event_at == datetime(2026, 9, 2, 17, 10, tzinfo=UTC)
    assert message.tracking_nos == ["9205590164917312"]
    assert message.order_nos == ["W2608377"]
    assert "Notice Left" in message.text and "Addressee not available" in message.text
    assert message.customer_name == "Michael B."
    assert message.identities == [
        Identity(kind=IdentityKind.email, value="m.brennan@example.com"),
        Identity(kind=IdentityKind.phone, value="+16145550152"),
        Identity(kind=IdentityKind.name, value="Michael B."),
    ]
    # actionability and classification are left to the core
    assert message.actionable and message.category is None and message.severity is None


@pytest.mark.parametrize(
    ("tag", "subtag", "status"),
    [
        ("Pending", "Pending_001", CourierStatus.pending),
        ("InfoReceived", "InfoReceived_001", CourierStatus.info_received),
        ("InTransit", "InTransit_007", CourierStatus.in_transit),
        ("OutForDelivery", "OutForDelivery_001", CourierStatus.out_for_delivery),
        ("AvailableForPickup", "AvailableForPickup_001", CourierStatus.available_for_pickup),
        ("AttemptFail", "AttemptFail_001", CourierStatus.failed_attempt),
        ("Delivered", "Delivered_001", CourierStatus.delivered),
        ("Exception", "Exception_004", CourierStatus.exception),
        ("Exception", "Exception_010", CourierStatus.returned),
        ("Exception", "Exception_011", CourierStatus.returned),
        ("Expired", "Expired_001", CourierStatus.expired),
        ("SomethingNew", "SomethingNew_001", CourierStatus.unknown),
    ],
)
def test_status_mapping(tag: str, subtag: str, status: CourierStatus) -> None:
    message = AfterShipConnector().parse(split_one(webhook(tag=tag, subtag=subtag)))
    assert message.courier is not None and message.courier.status is status


def test_event_without_order_id() -> None:
    message = AfterShipConnector().parse(split_one(webhook(order_id=None)))
    assert message.order_nos == []
    assert message.tracking_nos == ["9205590164917312"]


def test_newer_customers_shape_and_no_checkpoints() -> None:
    body = webhook(
        customer_name=None,
        emails=None,
        smses=None,
        checkpoints=[],
        customers=[
            {"role": "buyer", "name": "Li Wei", "email": "li@example.cn", "phone_number": "+8613900000000"}
        ],
    )
    message = AfterShipConnector().parse(split_one(body))
    assert message.customer_name == "Li Wei"
    assert {str(i) for i in message.identities} == {
        "email:li@example.cn",
        "phone:+8613900000000",
        "name:Li Wei",
    }
    assert message.courier is not None and message.courier.last_event is None
    assert message.text == "Addressee not available"


def test_time_falls_back_to_ts() -> None:
    raw = split_one(webhook(updated_at=None))
    assert raw.occurred_at == datetime(2026, 9, 2, 17, 33, 21, tzinfo=UTC)


def test_mappings_dir_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "couriers.yaml").write_text("aftership:\n  tags:\n    AttemptFail: exception\n", "utf-8")
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))
    connector = AfterShipConnector()
    message = connector.parse(split_one(webhook(), connector))
    assert message.courier is not None and message.courier.status is CourierStatus.exception


def test_bad_mapping_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match="mapping file not found"):
        AfterShipConnector()
    (tmp_path / "couriers.yaml").write_text("aftership:\n  tags:\n    Delivered: arrived\n", "utf-8")
    with pytest.raises(ConfigError, match="'arrived' is not a courier status"):
        AfterShipConnector()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"event": "tracking_update",\n "event_id": "e1", "msg": {', "truncated JSON at line 2 column 28"),
        (b"", "empty file"),
        (
            b'{"event": "tracking_update", "msg": {"tracking_number": "1Z"}}',
            "not an AfterShip webhook: no event_id",
        ),
        (
            b'{"event_id": "e1", "msg": {"slug": "ups"}}',
            "not an AfterShip tracking event: no msg.tracking_number",
        ),
        (b"42", "AfterShip webhook: expected a JSON object, got number"),
    ],
)
def test_split_capture_errors(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        AfterShipConnector().split_capture(data, instance="t", received_at=RECEIVED)
    assert str(info.value) == reason


def test_parse_wraps_bad_times() -> None:
    body = webhook()
    body["msg"]["checkpoints"][0]["checkpoint_time"] = "soon"
    raw = split_one(body)
    with pytest.raises(ParseError, match=r"checkpoints\[0\]\.checkpoint_time: unreadable time 'soon'"):
        AfterShipConnector().parse(raw)


def _plain(number: str) -> str:
    return re.sub(r"[\s-]", "", number).upper()


@pytest.mark.corpus
def test_dev_corpus_native_ids_and_tracking_numbers_match_labels(dev_corpus: Path) -> None:
    """Every dev capture splits and parses; native ids are exactly the labelled ones."""
    labels, items = dev_captures(dev_corpus, "aftership")
    connector = AfterShipConnector()
    for raw, _received in items:
        message = connector.parse(raw)
        label = labels[raw.native_id]
        if label.get("tracking_no"):
            assert [_plain(t) for t in message.tracking_nos] == [_plain(label["tracking_no"])]
        assert message.courier is not None and message.courier.status is not CourierStatus.unknown
    assert sorted(raw.native_id for raw, _ in items) == sorted(labels)
