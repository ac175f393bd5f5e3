"""The Kuaidi100 connector live: signed queries, per-number cursors, error codes, retries and push signatures."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import text

from connectors.kuaidi100 import Kuaidi100Config, Kuaidi100Connector, push_sign, query_sign
from hub.config import HubConfig
from hub.connector import Batch, Cursor, ReadContext, WebhookRequest
from hub.db import make_engine
from hub.errors import AuthError, CheckFailed, ConnectorError, SignatureInvalid, TransientError
from hub.models import CourierStatus, RawItem
from hub.polling import poll_instance
from tests.simulators.base import Reply
from tests.simulators.kuaidi100 import CUSTOMER, KEY, SALT, Kuaidi100Simulator, md5_upper

NUMBERS = ["7831209847556", "7831209847557", "7831209847558"]


@pytest.fixture
def sim() -> Iterator[Kuaidi100Simulator]:
    with Kuaidi100Simulator() as s:
        yield s  # type: ignore[misc]


def config(sim: Kuaidi100Simulator, **overrides: Any) -> Kuaidi100Config:
    settings = {
        "customer": CUSTOMER,
        "key": KEY,
        "salt": SALT,
        "numbers": [{"com": "zhongtong", "num": n} for n in NUMBERS],
        "base_url": sim.url,
        "timeout": 5,
        **overrides,
    }
    return Kuaidi100Config.model_validate(settings)


def read(
    connector: Kuaidi100Connector,
    cfg: Kuaidi100Config,
    cursor: Cursor | None = None,
    *,
    tracking_numbers: list[str] | None = None,
) -> tuple[list[Batch], list[RawItem], Cursor]:
    ctx = ReadContext(instance="kd", tracking_numbers=tracking_numbers or [])
    batches = list(connector.read(cfg, dict(cursor or {}), ctx))
    after = dict(cursor or {})
    for batch in batches:
        after[batch.partition] = batch.cursor
    return batches, [i for b in batches for i in b.items], after


def test_query_is_signed_like_the_official_demo(sim: Kuaidi100Simulator) -> None:
    sim.add_checkpoint(NUMBERS[0], "0", "【上海市】快件已到达上海转运中心")
    read(Kuaidi100Connector(), config(sim))
    form = dict(parse_qsl(sim.requests[0].body.decode()))
    param = json.loads(form["param"])
    assert param == {"com": "zhongtong", "num": NUMBERS[0], "resultv2": "1", "order": "desc"}
    assert form["customer"] == CUSTOMER
    assert (
        form["sign"] == md5_upper(form["param"] + KEY + CUSTOMER) == query_sign(form["param"], KEY, CUSTOMER)
    )
    assert sim.requests[0].headers["content-type"] == "application/x-www-form-urlencoded"


def test_one_item_per_number_with_new_trace_partitioned_by_number(sim: Kuaidi100Simulator) -> None:
    sim.add_checkpoint(NUMBERS[0], "1", "【上海市】快件已揽收")
    sim.add_checkpoint(NUMBERS[0], "5", "【上海市】派件员【周师傅】正在派件")
    sim.add_checkpoint(NUMBERS[2], "2", "【杭州市】快件异常：收件人电话无人接听")
    connector = Kuaidi100Connector()
    batches, items, cursor = read(connector, config(sim))
    assert [b.partition for b in batches] == [NUMBERS[0], NUMBERS[2]]
    newest = sim.result(NUMBERS[0])["data"][0]["ftime"]
    assert items[0].native_id == f"{NUMBERS[0]}@{newest}" and cursor[NUMBERS[0]] == newest
    push = json.loads(items[0].payload)
    assert push["status"] == "polling" and push["lastResult"]["nu"] == NUMBERS[0]
    message = connector.parse(items[0])
    assert message.text == "【上海市】派件员【周师傅】正在派件"
    assert message.courier is not None and message.courier.status != CourierStatus.unknown
    assert connector.parse(items[1]).tracking_nos == [NUMBERS[2]]

    _, again, cursor = read(connector, config(sim), cursor)
    assert again == []
    sim.add_checkpoint(NUMBERS[0], "3", "【上海市】已签收，签收人：本人")
    batches, more, _ = read(connector, config(sim), cursor)
    assert [b.partition for b in batches] == [NUMBERS[0]] and len(more) == 1
    assert more[0].native_id != items[0].native_id


def test_numbers_open_cases_name_are_queried_with_the_default_company(sim: Kuaidi100Simulator) -> None:
    sim.add_checkpoint("YT9693083639795", "0", "【深圳市】已发出", com="yuantong")
    connector = Kuaidi100Connector()
    _, items, _ = read(connector, config(sim), tracking_numbers=["yt 9693083639795"])
    assert items == []  # no default_com: only configured numbers
    _, items, _ = read(
        connector, config(sim, default_com="yuantong"), tracking_numbers=["yt 9693083639795", NUMBERS[0]]
    )
    assert [i.native_id.split("@")[0] for i in items] == ["YT9693083639795"]


def test_no_trace_yet_and_unknown_company_are_skipped(
    sim: Kuaidi100Simulator, caplog: pytest.LogCaptureFixture
) -> None:
    sim.add_checkpoint(NUMBERS[1], "0", "【上海市】运输中", com="yunda")  # configured as zhongtong: 400
    sim.add_checkpoint(NUMBERS[2], "0", "【上海市】运输中")
    with caplog.at_level(logging.WARNING):
        batches, _, _ = read(Kuaidi100Connector(), config(sim))
    assert [b.partition for b in batches] == [NUMBERS[2]]
    assert "returnCode 400" in caplog.text


def test_bad_key_is_an_auth_error_and_check_fails(sim: Kuaidi100Simulator) -> None:
    sim.add_checkpoint(NUMBERS[0], "0", "【上海市】运输中")
    sleeps: list[float] = []
    connector = Kuaidi100Connector(sleep=sleeps.append)
    bad = config(sim, key="kd100-wrong-key-1")
    with pytest.raises(AuthError) as info:
        read(connector, bad)
    assert len(sim.requests) == 1 and sleeps == [] and "503" in str(info.value)
    with pytest.raises(CheckFailed) as failed:
        connector.check(bad)
    assert "kd100-wrong-key-1" not in str(failed.value) and "key" in str(failed.value)
    with pytest.raises(CheckFailed, match="601"):
        connector.check(config(sim, customer="SOMEONE-ELSE"))


def test_check_passes_even_before_any_trace_exists(sim: Kuaidi100Simulator) -> None:
    Kuaidi100Connector().check(config(sim))
    Kuaidi100Connector().check(config(sim, numbers=[]))
    assert len(sim.requests) == 2


def test_429_waits_as_retry_after_says(sim: Kuaidi100Simulator) -> None:
    sim.add_checkpoint(NUMBERS[0], "0", "【上海市】运输中")
    sleeps: list[float] = []
    sim.rate_limit_next("5")
    _, items, _ = read(Kuaidi100Connector(sleep=sleeps.append), config(sim))
    assert len(items) == 1 and sleeps == [5]


def test_5xx_is_retried(sim: Kuaidi100Simulator) -> None:
    sim.add_checkpoint(NUMBERS[0], "0", "【上海市】运输中")
    sleeps: list[float] = []
    sim.server_error_next(2)
    _, items, _ = read(Kuaidi100Connector(sleep=sleeps.append), config(sim))
    assert len(items) == 1 and len(sleeps) == 2


def test_server_busy_code_stops_the_read_after_what_it_stored(sim: Kuaidi100Simulator) -> None:
    sim.add_checkpoint(NUMBERS[0], "0", "【上海市】运输中")
    sim.add_checkpoint(NUMBERS[1], "0", "【上海市】运输中")
    batches: list[Batch] = []
    sim.fail_next(
        Reply.json(sim.result(NUMBERS[0])),
        Reply.json({"result": False, "returnCode": "502", "message": "服务器繁忙"}),
    )
    with pytest.raises(TransientError, match="502"):
        for batch in Kuaidi100Connector().read(config(sim), {}, ReadContext(instance="kd")):
            batches.append(batch)
    assert [b.partition for b in batches] == [NUMBERS[0]]


def test_malformed_answer_is_an_error(sim: Kuaidi100Simulator) -> None:
    sim.malformed_next()
    with pytest.raises(ConnectorError, match="not JSON"):
        read(Kuaidi100Connector(), config(sim))


# ---------------------------------------------------------------- push


def delivery(body: bytes) -> WebhookRequest:
    return WebhookRequest(
        url="https://hub.example.com/webhooks/kd",
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=body,
        received_at=datetime(2026, 8, 15, 1, 13, 14),
    )


def test_push_with_a_good_sign_is_one_item_and_gets_the_expected_reply(sim: Kuaidi100Simulator) -> None:
    sim.add_checkpoint(NUMBERS[0], "5", "【上海市】派件中")
    body = sim.push_body(NUMBERS[0])
    connector = Kuaidi100Connector()
    [item] = connector.webhook(config(sim), delivery(body))
    ftime = sim.result(NUMBERS[0])["data"][0]["ftime"]
    assert item.native_id == f"{NUMBERS[0]}@{ftime}"
    status, reply, _ = connector.webhook_reply(1)
    assert status == 200 and json.loads(reply) == {"result": True, "returnCode": "200", "message": "成功"}


def test_push_sign_is_uppercase_md5_of_param_and_salt() -> None:
    assert push_sign('{"a":1}', SALT) == md5_upper('{"a":1}' + SALT)


@pytest.mark.parametrize("case", ["missing sign", "wrong salt", "tampered param", "no salt configured"])
def test_push_with_a_bad_or_missing_sign_is_refused(sim: Kuaidi100Simulator, case: str) -> None:
    sim.add_checkpoint(NUMBERS[0], "5", "【上海市】派件中")
    good = dict(parse_qsl(sim.push_body(NUMBERS[0]).decode()))
    cfg = config(sim, salt=None) if case == "no salt configured" else config(sim)
    body = {
        "missing sign": urlencode({"param": good["param"]}),
        "wrong salt": sim.push_body(NUMBERS[0], salt="not-the-salt").decode(),
        "tampered param": urlencode({"param": good["param"].replace('"5"', '"3"'), "sign": good["sign"]}),
        "no salt configured": urlencode(good),
    }[case].encode()
    with pytest.raises(SignatureInvalid) as info:
        Kuaidi100Connector().webhook(cfg, delivery(body))
    assert SALT not in str(info.value)


# ---------------------------------------------------------------- through the core


def test_poll_instance_stores_messages_once_and_logs_no_secret(
    sim: Kuaidi100Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for n in NUMBERS:
        sim.add_checkpoint(n, "2", "【上海市】快件异常，派件员联系不上收件人")
    settings = config(sim).model_dump(mode="json") | {"key": KEY, "salt": SALT}
    hub = HubConfig.model_validate({"connectors": [{"name": "kd", "type": "kuaidi100", "config": settings}]})
    engine = make_engine(f"sqlite:///{tmp_path}/h.db")
    try:
        first = poll_instance(engine, hub, hub.connectors[0])
        assert first.ok, first.error
        assert first.stats.messages == 3 and first.batches == 3
        second = poll_instance(engine, hub, hub.connectors[0])
        assert second.ok and second.stats.seen == 0
        with engine.connect() as c:
            assert c.execute(text("SELECT count(*) FROM raw_item")).scalar_one() == 3
            assert c.execute(text("SELECT count(*) FROM message")).scalar_one() == 3
            partitions = c.execute(text("SELECT partition FROM cursor WHERE instance = 'kd'")).scalars().all()
        assert sorted(partitions) == NUMBERS
    finally:
        engine.dispose()
    assert KEY not in caplog.text and SALT not in caplog.text
