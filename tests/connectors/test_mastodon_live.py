"""The live Mastodon connector against the simulator: gap-free paging, faults, polling into a store."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import ValidationError
from sqlalchemy import Engine, text

import connectors.mastodon as mastodon
from connectors.mastodon import MastodonConfig, MastodonConnector
from hub.config import HubConfig
from hub.connector import Batch, ReadContext
from hub.db import make_engine
from hub.errors import AuthError, CheckFailed, PaginationLoop, TransientError
from hub.polling import poll_instance
from hub.sdk import json_bytes
from tests.simulators.base import Reply
from tests.simulators.mastodon import MastodonSimulator

TOKEN = "masto-live-Secret-7f3a9c"


@pytest.fixture
def sim() -> Iterator[MastodonSimulator]:
    with MastodonSimulator(token=TOKEN) as s:
        yield s  # type: ignore[misc]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits, recorded instead of slept."""
    waits: list[float] = []
    monkeypatch.setattr(mastodon, "sleep", waits.append)
    return waits


def config(sim: MastodonSimulator, **overrides: Any) -> MastodonConfig:
    return MastodonConfig.model_validate(
        {"base_url": sim.url, "access_token": sim.token, "limit": 40, "timeout": 5, **overrides}
    )


def read(
    sim: MastodonSimulator, cursor: str = "", *, max_items: int | None = None, **cfg: Any
) -> list[Batch]:
    ctx = ReadContext(instance="masto", max_items=max_items)
    return list(MastodonConnector().read(config(sim, **cfg), {"": cursor} if cursor else {}, ctx))


def ids(batches: list[Batch]) -> list[str]:
    return [item.native_id for b in batches for item in b.items]


def notification_requests(sim: MastodonSimulator) -> list[Any]:
    return [r for r in sim.requests if r.path == "/api/v1/notifications"]


def test_pages_forward_without_gaps_over_many_pages(sim: MastodonSimulator, sleeps: list[float]) -> None:
    # notification ids cross from 2 to 3 digits: order and cursors must compare numerically
    sim._notification_ids = itertools.count(95)
    seeded = [sim.add_mention(lang="zh" if n % 3 else "en", username=f"u{n % 17}") for n in range(250)]
    batches = read(sim)
    got = ids(batches)
    assert got == [n["status"]["id"] for n in seeded], "every mention once, oldest first"
    assert [len(b.items) for b in batches] == [40] * 6 + [10]
    assert [b.cursor for b in batches] == [seeded[i]["id"] for i in (39, 79, 119, 159, 199, 239, 249)]
    asked = notification_requests(sim)
    assert [r.param("min_id") for r in asked] == ["0", *(b.cursor for b in batches)]
    assert all(r.query["types[]"] == ["mention"] and r.param("limit") == "40" for r in asked)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in asked)
    assert sleeps == []


def test_items_are_what_split_capture_makes_of_the_notification(sim: MastodonSimulator) -> None:
    first = sim.add_mention("my parcel never came", username="carol", domain="other.example")
    reply = sim.add_mention(
        "还是没有消息", lang="zh", username="carol", domain="other.example", in_reply_to=first
    )
    before = datetime.now(UTC)
    (batch,) = read(sim)
    connector = MastodonConnector()
    for item, notification in zip(batch.items, [first, reply], strict=True):
        (expected,) = connector.split_capture(
            json_bytes(notification), instance="masto", received_at=item.received_at, source=item.source
        )
        assert item == expected and item.native_id == notification["status"]["id"]
        assert item.received_at >= before and item.occurred_at == datetime.fromisoformat(
            notification["status"]["created_at"].replace("Z", "+00:00")
        )
    message = connector.parse(batch.items[1])
    assert message.reply_to_key == f"mastodon:{first['status']['id']}"
    assert message.text == "还是没有消息"


def test_other_notification_types_are_skipped_but_passed(sim: MastodonSimulator) -> None:
    sim.add_notification("follow")
    mention = sim.add_mention()
    last = sim.add_notification("favourite")
    # an old server ignores types[]: the connector still keeps only mentions and moves past the others
    original = sim._notifications

    def ignoring_types(request: Any) -> Reply:
        request.query.pop("types[]", None)
        return original(request)

    sim._notifications = ignoring_types  # type: ignore[method-assign]
    batches = read(sim)
    assert ids(batches) == [mention["status"]["id"]]
    assert batches[-1].cursor == last["id"]


def test_new_mentions_between_polls_and_during_a_read(sim: MastodonSimulator) -> None:
    for _ in range(5):
        sim.add_mention()
    first = read(sim, limit=2)
    assert len(ids(first)) == 5
    cursor = first[-1].cursor
    assert read(sim, cursor) == []

    late = [sim.add_mention(lang="zh") for _ in range(3)]
    arriving: list[dict[str, Any]] = []

    def arrive(request: Any) -> None:  # one more mention lands while the connector pages
        if request.path == "/api/v1/notifications" and not arriving:
            arriving.append(sim.add_mention("arrived mid-read"))

    sim.after_request = arrive
    second = read(sim, cursor, limit=2)
    assert ids(second) == [n["status"]["id"] for n in [*late, *arriving]]
    assert read(sim, second[-1].cursor) == []


def test_max_items_stops_at_a_page_boundary_with_its_cursor(sim: MastodonSimulator) -> None:
    seeded = [sim.add_mention() for _ in range(10)]
    batches = read(sim, max_items=4, limit=3)
    assert ids(batches) == [n["status"]["id"] for n in seeded[:4]]
    assert batches[-1].cursor == seeded[3]["id"]
    rest = read(sim, batches[-1].cursor, limit=3)
    assert ids(rest) == [n["status"]["id"] for n in seeded[4:]]


def test_429_waits_for_retry_after_then_reset_header(sim: MastodonSimulator, sleeps: list[float]) -> None:
    mention = sim.add_mention()
    sim.fail_next(sim.throttled(retry_after=7), sim.throttled(reset_in=42))
    assert ids(read(sim)) == [mention["status"]["id"]]
    assert sleeps[0] == 7
    assert 39 <= sleeps[1] <= 42, "Mastodon's X-RateLimit-Reset is an ISO-8601 time"
    assert len(notification_requests(sim)) == 4  # two refused, the page, the empty page


def test_server_errors_are_retried(sim: MastodonSimulator, sleeps: list[float]) -> None:
    mention = sim.add_mention()
    sim.fail_next(sim.server_error(502), sim.server_error(503))
    assert ids(read(sim)) == [mention["status"]["id"]]
    assert len(sleeps) == 2


def test_bad_token_is_an_auth_error_never_retried(sim: MastodonSimulator, sleeps: list[float]) -> None:
    sim.add_mention()
    with pytest.raises(AuthError) as info:
        read(sim, access_token="wrong-Token-123")
    assert "401" in str(info.value) and "wrong-Token-123" not in str(info.value)
    assert len(sim.requests) == 1 and sleeps == []


def test_unauthenticated_reply_is_mastodons(sim: MastodonSimulator) -> None:
    answer = requests.get(f"{sim.url}/api/v1/notifications", timeout=5)
    assert answer.status_code == 401 and answer.json() == {"error": "The access token is invalid"}
    assert answer.headers["X-RateLimit-Limit"] == "300"
    datetime.fromisoformat(answer.headers["X-RateLimit-Reset"].replace("Z", "+00:00"))


def test_simulator_paging_semantics(sim: MastodonSimulator) -> None:
    made = [sim.add_mention() for _ in range(6)]
    nid = [int(n["id"]) for n in made]
    auth = {"Authorization": f"Bearer {sim.token}"}

    def get(**params: Any) -> requests.Response:
        query = {"types[]": "mention", **params}
        return requests.get(f"{sim.url}/api/v1/notifications", params=query, headers=auth, timeout=5)

    newest = get(limit=2)
    assert [int(n["id"]) for n in newest.json()] == [nid[5], nid[4]]
    assert newest.links["next"]["url"].endswith(f"max_id={nid[4]}")
    assert newest.links["prev"]["url"].endswith(f"min_id={nid[5]}")
    assert "limit=2" in newest.links["next"]["url"] and "types%5B%5D=mention" in newest.links["next"]["url"]
    assert [int(n["id"]) for n in get(limit=2, since_id=nid[1]).json()] == [nid[5], nid[4]], "since_id: a gap"
    assert [int(n["id"]) for n in get(limit=2, min_id=nid[1]).json()] == [nid[3], nid[2]], "min_id: no gap"
    assert [int(n["id"]) for n in get(limit=2, max_id=nid[2]).json()] == [nid[1], nid[0]]
    assert len(get(limit=500).json()) == 6 and len(get().json()) == 6
    empty = get(min_id=nid[5])
    assert empty.json() == [] and "Link" not in empty.headers


def test_repeated_page_link_is_a_pagination_loop(sim: MastodonSimulator) -> None:
    mention = sim.add_mention()
    stuck = Reply.json([mention], headers={"Link": f'<{sim.url}/api/v1/notifications?min_id=5>; rel="prev"'})
    sim.fail_next(stuck, stuck)
    with pytest.raises(PaginationLoop):
        read(sim)
    assert [r.param("min_id") for r in notification_requests(sim)] == ["0", "5"]


def test_a_page_behind_the_cursor_or_a_link_past_the_page(sim: MastodonSimulator) -> None:
    old = sim.add_mention()
    newer = [sim.add_mention() for _ in range(3)]
    sim.fail_next(Reply.json([old]))  # the server ignores min_id and answers with older items
    with pytest.raises(PaginationLoop):
        read(sim, newer[0]["id"])
    assert len(notification_requests(sim)) == 1
    # a Link whose min_id lies beyond the page would skip mentions: the page's newest id is used
    ahead = Reply.json(
        [newer[0]], headers={"Link": f'<{sim.url}/api/v1/notifications?min_id=99999999>; rel="prev"'}
    )
    sim.fail_next(ahead)
    batches = read(sim, old["id"])
    assert ids(batches) == [n["status"]["id"] for n in newer]
    assert [r.param("min_id") for r in notification_requests(sim)[1:]] == [
        old["id"],
        newer[0]["id"],
        newer[2]["id"],
    ]


def test_malformed_pages_fail_without_moving_the_cursor(sim: MastodonSimulator) -> None:
    sim.add_mention()
    sim.fail_next(Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}))
    with pytest.raises(TransientError, match="not JSON"):
        read(sim)
    sim.fail_next(Reply.json({"error": "oops"}))
    with pytest.raises(TransientError, match="expected an array"):
        read(sim)
    sim.fail_next(Reply.json([{"type": "mention"}]))
    with pytest.raises(TransientError, match="with an id"):
        read(sim)


def test_empty_source_yields_nothing_after_one_request(sim: MastodonSimulator) -> None:
    assert read(sim) == []
    assert len(sim.requests) == 1


def test_check(sim: MastodonSimulator, caplog: pytest.LogCaptureFixture, sleeps: list[float]) -> None:
    caplog.set_level(logging.DEBUG)
    connector = MastodonConnector()
    connector.check(config(sim))
    with pytest.raises(CheckFailed) as info:
        connector.check(config(sim, access_token="Bad-token-9876"))
    assert str(info.value).startswith("access token refused by 127.0.0.1:")
    assert info.value.hint and "Bad-token-9876" not in str(info.value) + caplog.text
    sim.tokens["scoped-Token-5555"] = {"read:accounts"}
    with pytest.raises(CheckFailed, match="lacks a scope"):
        connector.check(config(sim, access_token="scoped-Token-5555"))
    with pytest.raises(CheckFailed, match="cannot reach"):
        connector.check(config(sim, base_url="http://127.0.0.1:9", timeout=1))


def test_config_rejects_bad_values(sim: MastodonSimulator) -> None:
    for bad in ({"limit": 81}, {"limit": 0}, {"base_url": "mastodon.social"}, {"access_token": ""}):
        with pytest.raises(ValidationError):
            config(sim, **bad)


# -- polling through the core ---------------------------------------------------------------


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as c:
        return {
            t: c.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one()
            for t in ("raw_item", "message", "case")
        }


def test_poll_instance_into_sqlite_twice_adds_nothing(
    sim: MastodonSimulator, tmp_path: Path, caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    caplog.set_level(logging.DEBUG)
    root = sim.add_mention("order A-1042 arrived broken, I want a refund", username="dana")
    sim.add_shop_reply(root, "sorry! please DM us the order number")
    sim.add_mention("I sent it, still nothing", username="dana", in_reply_to=root)
    for n in range(5):
        sim.add_mention(lang="zh" if n % 2 else "en", username=f"cust{n}")
    sim.fail_next(sim.throttled(retry_after=3))
    hub = HubConfig.model_validate(
        {
            "connectors": [
                {
                    "name": "masto",
                    "type": "mastodon",
                    "config": {"base_url": sim.url, "access_token": TOKEN, "limit": 3, "timeout": 5},
                }
            ]
        }
    )
    engine = make_engine(f"sqlite:///{tmp_path}/h.db")
    try:
        first = poll_instance(engine, hub, hub.connectors[0])
        assert first.ok, first.error
        assert first.stats.messages == 7 and first.batches == 3
        stored = counts(engine)
        assert stored["raw_item"] == 7 and stored["message"] == 7 and 1 <= stored["case"] <= 7
        with engine.connect() as c:
            cursor = c.execute(text("SELECT value FROM cursor WHERE instance = 'masto'")).scalar_one()
        assert cursor == sim.notifications[-1]["id"]

        again = poll_instance(engine, hub, hub.connectors[0])
        assert again.ok and again.stats.seen == 0 and again.batches == 0
        assert counts(engine) == stored

        sim.tokens.clear()  # the token is revoked: unhealthy with the reason, never the token
        broken = poll_instance(engine, hub, hub.connectors[0])
        assert not broken.ok and broken.error and broken.error.startswith("configuration:")
        with engine.connect() as c:
            assert c.execute(text("SELECT healthy FROM connector_health")).scalar_one() == 0
    finally:
        engine.dispose()
    assert sleeps == [3]
    assert TOKEN not in caplog.text
