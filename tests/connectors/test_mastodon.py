"""Mastodon connector: splitting notification captures and parsing statuses."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from connectors.mastodon import MastodonConnector
from hub.errors import ParseError
from hub.models import Channel, Identity, IdentityKind
from tests.connectors.corpus import dev_captures

RECEIVED = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)


def account(**overrides: Any) -> dict[str, Any]:
    data = {
        "id": "1001",
        "username": "alice",
        "acct": "alice",
        "display_name": "Alice A.",
        "url": "https://example.social/@alice",
    }
    data.update(overrides)
    return data


def notification(**status_overrides: Any) -> dict[str, Any]:
    status = {
        "id": "9000001",
        "created_at": "2026-08-30T10:15:00.000Z",
        "in_reply_to_id": None,
        "visibility": "public",
        "language": "en",
        "spoiler_text": "",
        "url": "https://example.social/@alice/9000001",
        "content": (
            '<p><span class="h-card"><a href="https://shop.example/@shop" class="u-url mention">'
            "@<span>shop</span></a></span> my kettle leaks &amp; sparks.<br>Order A-1</p>"
            '<p>Ask <span class="h-card"><a href="https://x.example/@bob" class="u-url mention">'
            '@<span>bob</span></a></span> too <a href="https://example.social/tags/fail" '
            'class="mention hashtag" rel="tag">#<span>fail</span></a></p>'
        ),
        "account": account(),
        "mentions": [{"id": "1", "username": "shop", "acct": "shop@shop.example"}],
        "media_attachments": [
            {
                "id": "77",
                "type": "image",
                "url": "https://files.example/media/original/abc123.jpeg",
                "description": "the kettle base",
            }
        ],
    }
    status.update(status_overrides)
    return {
        "id": "555",
        "type": "mention",
        "created_at": status["created_at"],
        "account": status["account"],
        "status": status,
    }


def encode(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def split_one(value: Any) -> Any:
    items = MastodonConnector().split_capture(
        encode(value), instance="t", received_at=RECEIVED, source="f.json"
    )
    assert len(items) == 1
    return items[0]


def test_split_capture_native_id_and_time() -> None:
    raw = split_one(notification())
    assert raw.connector == "mastodon"
    assert raw.native_id == "9000001"
    assert raw.occurred_at == datetime(2026, 8, 30, 10, 15, tzinfo=UTC)
    assert raw.received_at == RECEIVED
    assert raw.source == "f.json"


def test_parse_fields() -> None:
    connector = MastodonConnector()
    message = connector.parse(split_one(notification(in_reply_to_id="8999999")))
    assert message.channel is Channel.mastodon
    assert message.native_id == "9000001"
    assert message.instance == "t"
    assert message.occurred_at == datetime(2026, 8, 30, 10, 15, tzinfo=UTC)
    # leading mention dropped, paragraph break kept, inner mention and hashtag kept as words
    assert message.text == "my kettle leaks & sparks.\nOrder A-1\n\nAsk @bob too #fail"
    assert message.customer_name == "Alice A."
    assert Identity(kind=IdentityKind.handle, value="mastodon:@alice@example.social") in message.identities
    assert Identity(kind=IdentityKind.name, value="Alice A.") in message.identities
    assert message.thread_key == "mastodon:9000001"
    assert message.parent_keys == ["mastodon:8999999"]
    assert message.extra["lang_hint"] == "en"
    assert message.attachments == []
    assert message.extra["media"] == [
        {
            "type": "image",
            "url": "https://files.example/media/original/abc123.jpeg",
            "filename": "abc123.jpeg",
            "description": "the kettle base",
        }
    ]
    assert message.category is None and message.severity is None and message.language is None
    assert message.actionable


def test_remote_account_keeps_its_domain_lowercased() -> None:
    raw = split_one(notification(account=account(acct="Lina@M.Cmx.im", url="https://m.cmx.im/@Lina")))
    message = MastodonConnector().parse(raw)
    assert message.identities[0] == Identity(kind=IdentityKind.handle, value="mastodon:@lina@m.cmx.im")


def test_direct_visibility_spoiler_and_no_language() -> None:
    raw = split_one(notification(visibility="direct", language=None, spoiler_text="long rant"))
    message = MastodonConnector().parse(raw)
    assert message.extra["visibility"] == "direct"
    assert message.extra["direct_message"] is True
    assert "lang_hint" not in message.extra
    assert message.subject == "long rant"
    assert message.parent_keys == []


def test_html_is_made_safe() -> None:
    content = (
        "<p>hello <script>alert('x')</script><style>p{color:red}</style>"
        "<b>bold</b> <img src=x onerror=alert(1)> &lt;tag&gt;</p><!-- hidden -->"
    )
    message = MastodonConnector().parse(split_one(notification(content=content)))
    assert "alert" not in message.text
    assert "color" not in message.text
    assert "hidden" not in message.text
    assert "<b>" not in message.text and "<img" not in message.text
    assert message.text == "hello bold <tag>"


def test_mention_only_post_is_kept() -> None:
    content = '<p><span class="h-card"><a class="u-url mention">@<span>shop</span></a></span></p>'
    message = MastodonConnector().parse(split_one(notification(content=content)))
    assert message.text == "@shop"


def test_array_of_notifications_skips_other_types() -> None:
    favourite = {"id": "1", "type": "favourite", "status": {"id": "42"}}
    second = notification(id="9000002")
    items = MastodonConnector().split_capture(
        encode([notification(), favourite, second]), instance="t", received_at=RECEIVED
    )
    assert [i.native_id for i in items] == ["9000001", "9000002"]
    assert MastodonConnector().parse(items[1]).thread_key == "mastodon:9000002"


def test_missing_created_at_falls_back_to_received_at() -> None:
    raw = split_one(notification(created_at=None))
    assert raw.occurred_at is None
    assert MastodonConnector().parse(raw).occurred_at == RECEIVED


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{\n  "id": "1",\n  "status": {"id"', "truncated JSON at line 3 column 18"),
        (b"", "empty file"),
        (b"  \n", "empty file"),
        (b'{"id": "5", "type": "mention", "account": {}}', "not a Mastodon notification: no status.id"),
        (
            b'{"id": "5", "type": "follow", "account": {}}',
            "not a Mastodon mention: notification type 'follow'",
        ),
        (b'"hello"', "Mastodon notification: expected a JSON object, got string"),
        (b"[1]", "notification #0: expected a JSON object, got number"),
        (
            b'{"status": {"id": "1", "created_at": "yesterday"}}',
            "status.created_at: unreadable time 'yesterday'",
        ),
    ],
)
def test_split_capture_errors(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        MastodonConnector().split_capture(data, instance="t", received_at=RECEIVED)
    assert str(info.value) == reason


def test_parse_rejects_bad_payload() -> None:
    raw = split_one(notification()).model_copy(update={"payload": b'{"status": '})
    with pytest.raises(ParseError, match="truncated JSON at line 1 column 11"):
        MastodonConnector().parse(raw)


@pytest.mark.corpus
def test_dev_corpus_native_ids_match_labels(dev_corpus: Path) -> None:
    """Every dev capture splits and parses; native ids are exactly the labelled ones."""
    labels, items = dev_captures(dev_corpus, "mastodon")
    connector = MastodonConnector()
    for raw, _received in items:
        message = connector.parse(raw)
        assert message.native_id == raw.native_id
        assert message.text and not re.search(r"</?[a-zA-Z][^>]*>", message.text)
        assert any(i.kind is IdentityKind.handle for i in message.identities)
    assert sorted(raw.native_id for raw, _ in items) == sorted(labels)
