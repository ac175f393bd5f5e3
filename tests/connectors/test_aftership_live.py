"""The AfterShip connector live: cursor paging, updated_at cursor, retries, auth and webhook signatures."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from connectors.aftership import AfterShipConfig, AfterShipConnector, aftership_signature
from hub.config import HubConfig
from hub.connector import Batch, Cursor, ReadContext, WebhookRequest
from hub.db import make_engine
from hub.errors import AuthError, CheckFailed, ConnectorError, SignatureInvalid
from hub.models import CourierStatus, RawItem
from hub.polling import poll_instance
from hub.sdk import HighWaterMark
from tests.simulators.aftership import API_KEY, BASE_PATH, WEBHOOK_SECRET, AfterShipSimulator, sign


@pytest.fixture
def sim() -> Iterator[AfterShipSimulator]:
    with AfterShipSimulator() as s:
        yield s  # type: ignore[misc]


def config(sim: AfterShipSimulator, **overrides: Any) -> AfterShipConfig:
    settings = {
        "api_key": API_KEY,
        "base_url": sim.url + BASE_PATH,
        "webhook_secret": WEBHOOK_SECRET,
        "limit": 3,
        "timeout": 5,
        **overrides,
    }
    return AfterShipConfig.model_validate(settings)


def read(
    connector: AfterShipConnector, cfg: AfterShipConfig, cursor: Cursor | None = None
) -> tuple[list[Batch], list[RawItem], Cursor]:
    batches = list(connector.read(cfg, dict(cursor or {}), ReadContext(instance="as")))
    after = dict(cursor or {})
    for batch in batches:
        after[batch.partition] = batch.cursor
    return batches, [i for b in batches for i in b.items], after


def msg(item: RawItem) -> dict[str, Any]:
    return json.loads(item.payload)["msg"]


def listings(sim: AfterShipSimulator) -> list[Any]:
    return [r for r in sim.requests if r.path == f"{BASE_PATH}/trackings"]


def test_follows_next_cursor_and_reads_every_tracking_once(sim: AfterShipSimulator) -> None:
    made = [sim.add_tracking(f"1Z{n:016d}", "InTransit", f"W{n:05d}") for n in range(8)]
    _, items, cursor = read(AfterShipConnector(), config(sim))
    assert [msg(i)["id"] for i in items] == [t["id"] for t in made]  # oldest update first
    assert len({i.native_id for i in items}) == 8
    calls = listings(sim)
    assert len(calls) == 3 and calls[0].param("limit") == "3" and calls[0].param("cursor") is None
    assert all(c.param("cursor") for c in calls[1:])
    assert calls[0].headers["as-api-key"] == API_KEY
    mark = HighWaterMark.load(cursor[""])
    assert mark.at == datetime.fromisoformat(made[-1]["updated_at"]) and mark.ids == {made[-1]["id"]}


def test_item_is_a_webhook_shaped_body_parse_understands(sim: AfterShipSimulator) -> None:
    sim.add_tracking("9205590164917312", "InTransit", "W2608377", slug="usps")
    sim.add_checkpoint("9205590164917312", "Exception", "Package damaged in transit", subtag="Exception_011")
    connector = AfterShipConnector()
    _, [item], _ = read(connector, config(sim))
    body = json.loads(item.payload)
    assert body["event"] == "tracking_update" and isinstance(body["ts"], int)
    message = connector.parse(item)
    assert message.native_id == body["event_id"] == item.native_id
    assert message.tracking_nos == ["9205590164917312"] and message.order_nos == ["W2608377"]
    assert message.courier is not None and message.courier.status != CourierStatus.unknown
    assert message.courier.last_event == "Package damaged in transit"


def test_event_ids_are_stable_across_reads_and_change_with_each_update(sim: AfterShipSimulator) -> None:
    sim.add_tracking("1Z0001", "InTransit")
    connector = AfterShipConnector()
    _, first, cursor = read(connector, config(sim))
    _, again, _ = read(connector, config(sim))
    assert [i.native_id for i in first] == [i.native_id for i in again]
    sim.add_checkpoint("1Z0001", "OutForDelivery", "Out for delivery")
    _, update, _ = read(connector, config(sim), cursor)
    assert len(update) == 1 and update[0].native_id != first[0].native_id
    assert msg(update[0])["tag"] == "OutForDelivery"


def test_updated_at_min_is_inclusive_and_same_second_updates_are_not_lost(sim: AfterShipSimulator) -> None:
    at = datetime(2026, 9, 2, 9, 30, tzinfo=UTC)
    first = sim.add_tracking("1Z0001", at=at)
    connector = AfterShipConnector()
    _, items, cursor = read(connector, config(sim))
    assert len(items) == 1
    second = sim.add_tracking("1Z0002", at=at)
    sim.requests.clear()
    _, items, cursor = read(connector, config(sim), cursor)
    assert [msg(i)["id"] for i in items] == [second["id"]]
    assert datetime.fromisoformat(listings(sim)[0].param("updated_at_min") or "") == at
    assert HighWaterMark.load(cursor[""]).ids == {first["id"], second["id"]}
    _, items, _ = read(connector, config(sim), cursor)
    assert items == []


def test_429_waits_as_retry_after_says(sim: AfterShipSimulator) -> None:
    sim.add_tracking("1Z0001")
    sleeps: list[float] = []
    sim.rate_limit_next(retry_after="4")
    _, items, _ = read(AfterShipConnector(sleep=sleeps.append), config(sim))
    assert len(items) == 1 and sleeps == [4] and len(listings(sim)) == 2


def test_429_without_retry_after_waits_for_the_rate_limit_reset(sim: AfterShipSimulator) -> None:
    sim.add_tracking("1Z0001")
    sleeps: list[float] = []
    sim.rate_limit_next(retry_after=None, reset_in=3)
    _, items, _ = read(AfterShipConnector(sleep=sleeps.append), config(sim))
    assert len(items) == 1 and len(sleeps) == 1 and 1 <= sleeps[0] <= 3


def test_5xx_is_retried(sim: AfterShipSimulator) -> None:
    sim.add_tracking("1Z0001")
    sleeps: list[float] = []
    sim.server_error_next(2)
    _, items, _ = read(AfterShipConnector(sleep=sleeps.append), config(sim))
    assert len(items) == 1 and len(sleeps) == 2


def test_bad_key_is_an_auth_error_after_one_request(sim: AfterShipSimulator) -> None:
    sleeps: list[float] = []
    connector = AfterShipConnector(sleep=sleeps.append)
    bad = config(sim, api_key="asat_wrong_key_123")
    with pytest.raises(AuthError) as info:
        read(connector, bad)
    assert len(sim.requests) == 1 and sleeps == []
    assert "asat_wrong_key_123" not in str(info.value) and "Invalid API key" in str(info.value)
    sim.requests.clear()
    with pytest.raises(CheckFailed) as failed:
        connector.check(bad)
    assert len(sim.requests) == 1 and "api_key" in str(failed.value)
    assert "asat_wrong_key_123" not in str(failed.value)


def test_check_asks_for_one_tracking(sim: AfterShipSimulator) -> None:
    AfterShipConnector().check(config(sim))
    assert [(r.path, r.param("limit")) for r in sim.requests] == [(f"{BASE_PATH}/trackings", "1")]


def test_malformed_page_fails_the_read_without_items(sim: AfterShipSimulator) -> None:
    sim.add_tracking("1Z0001")
    sim.malformed_next()
    with pytest.raises(ConnectorError, match=r"data\.trackings"):
        read(AfterShipConnector(), config(sim))


# ---------------------------------------------------------------- webhook


def delivery(body: bytes, sig: str | None) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if sig is not None:
        headers["aftership-hmac-sha256"] = sig
    return WebhookRequest(
        url="https://hub.example.com/webhooks/as", headers=headers, body=body, received_at=datetime.now(UTC)
    )


def test_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    assert aftership_signature(WEBHOOK_SECRET, b'{"a":1}') == sign(WEBHOOK_SECRET, b'{"a":1}')


def test_webhook_accepts_a_good_signature(sim: AfterShipSimulator) -> None:
    body = sim.webhook_body(sim.add_tracking("1Z0001", "AttemptFail", "W1"))
    [item] = AfterShipConnector().webhook(config(sim), delivery(body, sign(WEBHOOK_SECRET, body)))
    assert item.native_id == json.loads(body)["event_id"] and item.connector == "aftership"


@pytest.mark.parametrize("case", ["missing", "wrong secret", "tampered body", "no secret configured"])
def test_webhook_rejects_bad_missing_and_tampered_deliveries(sim: AfterShipSimulator, case: str) -> None:
    body = sim.webhook_body(sim.add_tracking("1Z0001", "AttemptFail", "W1"))
    good = sign(WEBHOOK_SECRET, body)
    cfg = config(sim, webhook_secret=None) if case == "no secret configured" else config(sim)
    request = {
        "missing": delivery(body, None),
        "wrong secret": delivery(body, sign("not-the-secret", body)),
        "tampered body": delivery(body.replace(b"AttemptFail", b"Delivered"), good),
        "no secret configured": delivery(body, good),
    }[case]
    with pytest.raises(SignatureInvalid) as info:
        AfterShipConnector().webhook(cfg, request)
    assert WEBHOOK_SECRET not in str(info.value)


# ---------------------------------------------------------------- through the core


def test_poll_instance_stores_messages_once_and_logs_no_secret(
    sim: AfterShipSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for n in range(4):
        sim.add_tracking(f"1Z{n:016d}", "Exception", f"W{n:05d}", subtag="Exception_011")
    settings = {
        "api_key": API_KEY,
        "base_url": sim.url + BASE_PATH,
        "webhook_secret": WEBHOOK_SECRET,
        "limit": 3,
    }
    hub = HubConfig.model_validate({"connectors": [{"name": "as", "type": "aftership", "config": settings}]})
    engine = make_engine(f"sqlite:///{tmp_path}/h.db")
    try:
        first = poll_instance(engine, hub, hub.connectors[0])
        assert first.ok, first.error
        assert first.stats.messages == 4
        second = poll_instance(engine, hub, hub.connectors[0])
        assert second.ok and second.stats.seen == 0
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM raw_item")).scalar_one() == 4
            assert c.execute(text("SELECT count(*) FROM message")).scalar_one() == 4
        sim.add_checkpoint("1Z0000000000000001", "Delivered", "Delivered, front door")
        third = poll_instance(engine, hub, hub.connectors[0])
        assert third.ok and third.stats.messages == 1
    finally:
        engine.dispose()
    assert API_KEY not in caplog.text and WEBHOOK_SECRET not in caplog.text
