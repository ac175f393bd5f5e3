"""Outbox delivery through the generic webhook sink to a local receiver: order, retries, dead letters."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from hub.config import DeliverySettings, HubConfig, SinkInstance
from hub.outbox import Outbox
from hub.tables import OutboxRow
from tests.core.test_pipeline import build_corpus, run_import
from tests.simulators.base import Reply
from tests.simulators.webhook_receiver import WebhookReceiver

SECRET = "whsec-test-0123456789"


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as r:
        yield r  # type: ignore[misc]


def hub_config(*receivers: WebhookReceiver, timeout: float = 2.0, **delivery: float) -> HubConfig:
    settings = DeliverySettings(
        backoff_seconds=0.01, backoff_max_seconds=0.05, breaker_cooldown_seconds=0.2, **delivery
    )
    return HubConfig(
        sinks=[
            SinkInstance(
                name=f"crm{i}",
                type="webhook",
                config={"url": r.url + "/hook", "secret": SECRET, "timeout": timeout},
                delivery=settings,
            )
            for i, r in enumerate(receivers)
        ]
    )


def outbox_rows(engine: Engine) -> list[OutboxRow]:
    with Session(engine) as s:
        return list(s.exec(select(OutboxRow)).all())


def assert_in_order_exactly_once(receiver: WebhookReceiver, rows: list[OutboxRow]) -> None:
    assert set(receiver.events) == {r.event_id for r in rows}
    for case_id, seqs in receiver.by_case.items():
        assert seqs == list(range(1, len(seqs) + 1)), (case_id, seqs)


def test_every_event_reaches_the_receiver_once_in_order(
    sqlite_engine: Engine, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    config = hub_config(receiver)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    rows = outbox_rows(sqlite_engine)
    assert rows and all(r.status == "pending" for r in rows)
    stats = Outbox(sqlite_engine, config).flush()
    assert stats.delivered == len(rows) and stats.dead == 0
    assert_in_order_exactly_once(receiver, rows)
    assert receiver.duplicates == 0 and receiver.bad_signatures == 0
    first = next(iter(receiver.events.values()))
    assert set(first) == {"event_id", "type", "sequence", "occurred_at", "case"}
    assert first["case"]["case_id"].startswith("C-")


def test_flaky_receiver_still_gets_everything_in_order(
    sqlite_engine: Engine, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    config = hub_config(receiver, timeout=0.5, max_attempts=20)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    receiver.fail_next(
        Reply(500, b"boom"),
        Reply(429, b'{"error":"slow down"}', {"Retry-After": "0.1"}),
        Reply(drop=True),
        Reply(200, b"{}", delay=1.0),  # answered too late: the hub retries, the receiver drops the duplicate
        Reply(503, b"maintenance"),
    )
    stats = Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert stats.dead == 0 and all(r.status == "delivered" for r in rows)
    assert_in_order_exactly_once(receiver, rows)
    assert max(r.attempts for r in rows) >= 2


def test_client_error_dead_letters_and_blocks_the_case_until_retried(
    sqlite_engine: Engine, tmp_path: Path, receiver: WebhookReceiver
) -> None:
    config = hub_config(receiver)
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    receiver.fail_next(Reply(422, b'{"error":"unknown field"}'))
    outbox = Outbox(sqlite_engine, config)
    stats = outbox.flush()
    assert stats.dead == 1
    rows = outbox_rows(sqlite_engine)
    dead = next(r for r in rows if r.status == "dead")
    assert "unknown field" in (dead.last_error or "")
    later = [r for r in rows if r.case_id == dead.case_id and r.sequence > dead.sequence]
    assert later and all(r.status == "pending" for r in later), "later events of that case wait"
    assert outbox.retry() == 1
    outbox.flush()
    rows = outbox_rows(sqlite_engine)
    assert all(r.status == "delivered" for r in rows)
    assert_in_order_exactly_once(receiver, rows)


def test_a_dead_sink_does_not_stall_the_others(sqlite_engine: Engine, tmp_path: Path) -> None:
    with WebhookReceiver(SECRET) as good, WebhookReceiver(SECRET) as bad:
        config = hub_config(good, bad, breaker_threshold=2, max_attempts=50)  # type: ignore[arg-type]
        run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
        bad.fail_next(*[Reply(500, b"down")] * 200)
        outbox = Outbox(sqlite_engine, config)
        outbox.flush(max_seconds=1.0)
        rows = outbox_rows(sqlite_engine)
        assert all(r.status == "delivered" for r in rows if r.sink == "crm0")
        assert not any(r.status == "delivered" for r in rows if r.sink == "crm1")
        assert len(bad.requests) < 40, "the breaker keeps the dead sink from being hammered"
        assert_in_order_exactly_once(good, [r for r in rows if r.sink == "crm0"])  # type: ignore[arg-type]


def test_bad_secret_is_rejected_by_the_receiver_and_never_logged(
    sqlite_engine: Engine, tmp_path: Path, receiver: WebhookReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    config = hub_config(receiver, max_attempts=1)
    config.sinks[0].config["secret"] = "wrong-secret-value"
    run_import(sqlite_engine, build_corpus(tmp_path / "c"), config)
    Outbox(sqlite_engine, config).flush()
    rows = outbox_rows(sqlite_engine)
    assert receiver.bad_signatures > 0 and receiver.events == {}
    assert all("wrong-secret-value" not in (r.last_error or "") for r in rows)
    assert "wrong-secret-value" not in caplog.text
