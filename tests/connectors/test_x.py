"""X connector: splitting mentions pages into tweets and parsing them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.x import XConnector
from hub.errors import ParseError
from hub.models import Channel, Identity, IdentityKind
from tests.connectors.corpus import dev_captures

RECEIVED = datetime(2026, 9, 5, 9, 0, tzinfo=UTC)


def page() -> dict[str, Any]:
    return {
        "data": [
            {
                "id": "300",
                "text": "@Shop @CourierCo still nothing &amp; no reply, see https://t.co/abc123 cc @boss",
                "author_id": "11",
                "created_at": "2026-09-04T08:00:00.000Z",
                "conversation_id": "100",
                "lang": "en",
                "edit_history_tweet_ids": ["300"],
                "referenced_tweets": [{"type": "replied_to", "id": "200"}, {"type": "quoted", "id": "150"}],
                "entities": {
                    "urls": [
                        {
                            "start": 51,
                            "end": 74,
                            "url": "https://t.co/abc123",
                            "expanded_url": "https://shop.example/orders/W1",
                            "display_url": "shop.example/orders/W1",
                        }
                    ],
                    "mentions": [{"start": 0, "end": 5, "username": "Shop", "id": "1"}],
                },
            },
            {
                "id": "200",
                "text": "@Shop where is my parcel?",
                "author_id": "11",
                "created_at": "2026-09-03T08:00:00.000Z",
                "conversation_id": "100",
                "lang": "en",
                "edit_history_tweet_ids": ["200"],
                "referenced_tweets": [{"type": "replied_to", "id": "100"}],
            },
            {
                "id": "100",
                "text": "@shop 订单 W2 还没到",
                "author_id": "99",
                "created_at": "2026-09-02T08:00:00.000Z",
                "conversation_id": "100",
                "lang": "zh",
                "edit_history_tweet_ids": ["100"],
            },
        ],
        "includes": {
            "users": [
                {"id": "11", "name": "Jo Smith", "username": "Jo_Smith"},
                {"id": "1", "name": "The Shop", "username": "Shop"},
            ],
            "tweets": [{"id": "150", "text": "quoted tweet"}],
        },
        "meta": {"result_count": 3, "newest_id": "300", "oldest_id": "100"},
    }


def split(value: Any) -> list[Any]:
    data = json.dumps(value, ensure_ascii=False).encode("utf-8")
    return XConnector().split_capture(data, instance="t", received_at=RECEIVED, source="p.json")


def test_one_raw_item_per_tweet() -> None:
    items = split(page())
    assert [i.native_id for i in items] == ["300", "200", "100"]
    assert items[0].occurred_at == datetime(2026, 9, 4, 8, 0, tzinfo=UTC)
    assert all(i.connector == "x" and i.received_at == RECEIVED for i in items)
    first = json.loads(items[0].payload)
    assert first["tweet"]["id"] == "300"
    assert first["author"] == {"id": "11", "name": "Jo Smith", "username": "Jo_Smith"}
    assert first["includes"]["tweets"] == [{"id": "150", "text": "quoted tweet"}]
    # the author of tweet 100 is missing from includes.users
    assert json.loads(items[2].payload)["author"] is None


def test_parse_reply_with_urls_and_mentions() -> None:
    message = XConnector().parse(split(page())[0])
    assert message.channel is Channel.x
    assert message.native_id == "300"
    assert message.text == "still nothing & no reply, see https://shop.example/orders/W1 cc @boss"
    assert message.identities[0] == Identity(kind=IdentityKind.handle, value="x:@jo_smith")
    assert Identity(kind=IdentityKind.name, value="Jo Smith") in message.identities
    assert message.customer_name == "Jo Smith"
    assert message.thread_key == "x:300"
    assert message.parent_keys == ["x:100", "x:200", "x:150"]
    assert message.extra["lang_hint"] == "en"
    assert message.occurred_at == datetime(2026, 9, 4, 8, 0, tzinfo=UTC)
    assert message.category is None and message.language is None


def test_parent_keys_not_duplicated() -> None:
    message = XConnector().parse(split(page())[1])
    assert message.parent_keys == ["x:100"]


def test_missing_author_still_parses() -> None:
    message = XConnector().parse(split(page())[2])
    assert message.text == "订单 W2 还没到"
    assert message.customer_name is None
    assert not any(i.value.startswith("x:@") for i in message.identities)
    assert Identity(kind=IdentityKind.handle, value="x:id:99") in message.identities
    assert message.extra["author_missing"] is True
    assert message.parent_keys == []  # conversation root is the tweet itself
    assert message.extra["lang_hint"] == "zh"


def test_page_without_results_gives_no_items() -> None:
    assert split({"meta": {"result_count": 0}}) == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"data": [{"id": "1", "text": "@Shop hi"', "truncated JSON at line 1 column 41"),
        (b"", "empty file"),
        (b'{"users": []}', "not an X mentions page: no data[] or meta"),
        (b'{"data": {"id": "1"}}', "not an X mentions page: data is not an array"),
        (b'{"data": [{"text": "no id"}]}', "not an X tweet: data[0] has no id"),
        (b"[]", "X mentions page: expected a JSON object, got array"),
    ],
)
def test_split_capture_errors(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        XConnector().split_capture(data, instance="t", received_at=RECEIVED)
    assert str(info.value) == reason


def test_parse_rejects_item_without_tweet() -> None:
    raw = split(page())[0].model_copy(update={"payload": b'{"author": null}'})
    with pytest.raises(ParseError, match=r"not an X item: no tweet\.id"):
        XConnector().parse(raw)


@pytest.mark.corpus
def test_dev_corpus_native_ids_match_labels(dev_corpus: Path) -> None:
    """Every dev capture splits and parses; native ids are exactly the labelled ones."""
    labels, items = dev_captures(dev_corpus, "x")
    connector = XConnector()
    for raw, received in items:
        message = connector.parse(raw)
        assert message.native_id == raw.native_id
        assert message.text
        assert message.occurred_at <= received
    assert sorted(raw.native_id for raw, _ in items) == sorted(labels)
