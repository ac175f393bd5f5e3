"""Every parser is total: any input becomes messages or a quarantine reason, never a crash.

For every installed connector (``hub.registry.available()``), property-based tests feed

(a) arbitrary bytes,
(b) arbitrary JSON values, and
(c) structurally plausible captures (the real shape, random field values)

into ``split_capture`` and ``parse``. The contract: ``split_capture`` returns a list of
:class:`RawItem` or raises :class:`ParseError`; ``parse`` returns a
:class:`ComplaintMessage` or raises ``ParseError``; ``hub.understand.enrich`` never
raises and no understanding step fails on the way (``extra["understand_errors"]``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import ParseError
from hub.models import ComplaintMessage, RawItem
from hub.registry import available, get_connector
from hub.understand import enrich

RECEIVED = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
CONNECTORS = available()

#: ``HUB_FUZZ_EXAMPLES=5000`` for a longer hunt; the default keeps the file under ~30 s
TOTALITY = settings(
    max_examples=int(os.environ.get("HUB_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


# ---------------------------------------------------------------- the contract


def check_total(name: str, data: bytes) -> list[ComplaintMessage]:
    """Split, parse and enrich ``data`` with connector ``name``, asserting the contract."""
    connector = get_connector(name)
    try:
        items = connector.split_capture(data, instance=f"{name}-t", received_at=RECEIVED, source="fuzz")
    except ParseError:
        return []
    assert isinstance(items, list)
    messages = []
    for raw in items:
        assert isinstance(raw, RawItem)
        assert raw.connector == name
        messages += check_parse(name, raw)
    return messages


def check_parse(name: str, raw: RawItem) -> list[ComplaintMessage]:
    """Parse and enrich one raw item, asserting the contract."""
    try:
        msg = get_connector(name).parse(raw)
    except ParseError as exc:
        assert str(exc), "a ParseError must say why (it is the quarantine reason)"
        return []
    assert isinstance(msg, ComplaintMessage)
    enriched = enrich(msg)
    assert enriched is msg
    assert "understand_errors" not in msg.extra, msg.extra["understand_errors"]
    # what the pipeline stores must be serialisable
    msg.model_dump_json()
    return [msg]


def raw_item(name: str, payload: bytes) -> RawItem:
    return RawItem(connector=name, instance=f"{name}-t", native_id="n-1", received_at=RECEIVED, payload=payload)


# ---------------------------------------------------------------- generic strategies

#: words that steer the understanding steps into their interesting paths
WORDS = [
    "订单号", "运单号", "快递", "没收到", "退款", "坏了", "冒烟", "第三次", "投诉", "谢谢", "態度很差",
    "順豐", "幺三八", "零", "两", "杠", "HM20260805-12980", "W2608203", "SF1588204417364",
    "1Z999AA10123456784", "RR123456785CN", "78312098475561", "13501238877", "+8613761029384",
    "0933-271-608", "￥399.00", "$189.98", "2026-08-15", "100081", "a@b.co", "x@例子.中国",
    "double eight", "oh", "one three eight", "J D", "refund", "broken", "third time", "tracking",
    "order", "not", "不是", "没有", "@hemumall", "@a@b.social", "https://t.co/x", "<p>", "</p>",
    "<br>", "<script>x</script>", "&amp;", "&#0;", "\u0000", "\ufeff", "\u2029", "\ud800", "👍", "#",
    "re:", "*", "(", "[", "\\", "\n", "\r\n", "  ", "。", "？？",
]  # fmt: skip

words = st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)
texts = st.one_of(st.text(max_size=60), words, st.text(alphabet="订单号运单快递零一二三幺杠0123456789 -", max_size=40))
timestamps = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59),
        timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]),
    ).map(lambda d: d.isoformat()),
    st.sampled_from(["2026-08-15 09:10:44", "2026-08-06T13:10:22.000Z", "0001-01-01T00:00:00+01:00", ""]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), texts)
junk = st.one_of(
    scalars,
    st.lists(scalars, max_size=3),
    st.dictionaries(st.text(max_size=6), scalars, max_size=3),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text()),
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually ``strategy``, sometimes any junk value."""
    return st.one_of(strategy, strategy, junk)


def encode_json(value: Any) -> bytes:
    # ensure_ascii keeps lone surrogates as \\ud800 escapes, as a real body may carry them
    return json.dumps(value).encode("utf-8")


# ---------------------------------------------------------------- plausible shapes per connector

ids = st.one_of(st.text(min_size=1, max_size=24), st.integers(min_value=0).map(str), st.integers())

mastodon_account = st.fixed_dictionaries(
    {},
    optional={
        "id": maybe(ids),
        "username": maybe(texts),
        "acct": maybe(st.sampled_from(["linawang@m.cmx.im", "bob", "@x@y", "", "a@"]) | texts),
        "display_name": maybe(texts),
        "url": maybe(st.sampled_from(["https://m.cmx.im/@linawang", "http://[::1", "not a url"]) | texts),
        "uri": maybe(texts),
    },
)
html_fragments = st.lists(
    st.one_of(texts, st.sampled_from(['<span class="h-card"><a href="x">@<span>hemumall</span></a></span>',
                                      "<p>", "</p>", "<br/>", "<a href='https://t.co/x'>link</a>", "<style>p{}</style>",
                                      "<img src=x onerror=y>", "<!-- c -->", "&lt;", "<div", "</"])),
    max_size=10,
).map("".join)  # fmt: skip
mastodon_status = st.fixed_dictionaries(
    {"id": maybe(ids)},
    optional={
        "created_at": maybe(timestamps),
        "in_reply_to_id": maybe(ids),
        "content": maybe(html_fragments),
        "spoiler_text": maybe(texts),
        "language": maybe(st.sampled_from(["zh", "en", "zh-TW"])),
        "visibility": maybe(st.sampled_from(["public", "unlisted", "private", "direct"])),
        "url": maybe(texts),
        "uri": maybe(texts),
        "account": maybe(mastodon_account),
        "media_attachments": maybe(
            st.lists(
                maybe(st.fixed_dictionaries({}, optional={"type": junk, "url": maybe(texts), "remote_url": junk})),
                max_size=3,
            )
        ),
    },
)
mastodon_notification = st.fixed_dictionaries(
    {"status": maybe(mastodon_status)},
    optional={
        "id": maybe(ids),
        "type": maybe(st.sampled_from(["mention", "favourite", "follow"])),
        "created_at": maybe(timestamps),
        "account": maybe(mastodon_account),
    },
)
mastodon_captures = st.one_of(mastodon_notification, st.lists(maybe(mastodon_notification), max_size=4)).map(
    encode_json
)

x_user = st.fixed_dictionaries(
    {"id": maybe(st.sampled_from(["1", "2"]) | ids)},
    optional={"name": maybe(texts), "username": maybe(texts)},
)
x_tweet = st.fixed_dictionaries(
    {"id": maybe(ids)},
    optional={
        "text": maybe(texts),
        "author_id": maybe(st.sampled_from(["1", "2"]) | ids),
        "created_at": maybe(timestamps),
        "conversation_id": maybe(ids),
        "lang": maybe(st.sampled_from(["zh", "en", "und"])),
        "referenced_tweets": maybe(
            st.lists(maybe(st.fixed_dictionaries({"type": maybe(st.sampled_from(["replied_to", "quoted"])),
                                                   "id": maybe(ids)})), max_size=3)
        ),
        "entities": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "urls": maybe(st.lists(maybe(st.fixed_dictionaries(
                        {"url": maybe(texts)},
                        optional={"expanded_url": maybe(texts), "unwound_url": maybe(texts)},
                    )), max_size=3)),
                    "mentions": maybe(st.lists(maybe(st.fixed_dictionaries({"username": maybe(texts)})), max_size=3)),
                },
            )
        ),
        "attachments": maybe(st.fixed_dictionaries({"media_keys": maybe(st.lists(junk, max_size=3))})),
    },
)  # fmt: skip
x_page = st.fixed_dictionaries(
    {},
    optional={
        "data": maybe(st.lists(maybe(x_tweet), max_size=4)),
        "includes": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "users": maybe(st.lists(maybe(x_user), max_size=3)),
                    "tweets": maybe(st.lists(maybe(x_tweet), max_size=2)),
                    "media": maybe(st.lists(junk, max_size=2)),
                },
            )
        ),
        "meta": maybe(st.fixed_dictionaries({}, optional={"result_count": junk, "newest_id": junk})),
        "errors": maybe(st.lists(junk, max_size=2)),
    },
)
x_captures = x_page.map(encode_json)

twilio_callback = st.fixed_dictionaries(
    {"TranscriptionSid": maybe(ids)},
    optional={
        "TranscriptionText": maybe(texts),
        "TranscriptionStatus": maybe(st.sampled_from(["completed", "failed", "in-progress"])),
        "From": maybe(st.sampled_from(["+8613501238877", "+266696687", "(617) 555-0143", "anonymous"]) | texts),
        "To": maybe(texts),
        "CallSid": maybe(ids),
        "RecordingSid": maybe(ids),
        "RecordingUrl": maybe(texts),
        "Direction": maybe(texts),
    },
)
twilio_captures = st.one_of(
    twilio_callback.map(encode_json),
    twilio_callback.map(
        lambda d: urlencode({k: "" if v is None else str(v) for k, v in d.items()}, errors="surrogatepass").encode()
    ),
)

aftership_tags = st.sampled_from(
    ["Pending", "InfoReceived", "InTransit", "OutForDelivery", "AttemptFail", "Delivered",
     "AvailableForPickup", "Exception", "Expired", "Bogus"]
)  # fmt: skip
aftership_person = st.fixed_dictionaries(
    {},
    optional={
        "role": maybe(texts),
        "name": maybe(texts),
        "email": maybe(texts),
        "phone_number": maybe(texts),
    },
)
aftership_checkpoint = st.fixed_dictionaries(
    {},
    optional={
        "checkpoint_time": maybe(timestamps),
        "message": maybe(texts),
        "location": maybe(texts),
        "tag": maybe(aftership_tags),
    },
)
aftership_msg = st.fixed_dictionaries(
    {"tracking_number": maybe(texts)},
    optional={
        "id": maybe(ids),
        "slug": maybe(texts),
        "title": maybe(texts),
        "order_id": maybe(texts),
        "order_number": maybe(texts),
        "tag": maybe(aftership_tags),
        "subtag": maybe(st.sampled_from(["Exception_010", "Exception_011", "Delivered_001"]) | texts),
        "subtag_message": maybe(texts),
        "customer_name": maybe(texts),
        "emails": maybe(st.lists(maybe(texts), max_size=3)),
        "smses": maybe(st.lists(maybe(texts), max_size=3)),
        "customers": maybe(st.lists(maybe(aftership_person), max_size=3)),
        "updated_at": maybe(timestamps),
        "expected_delivery": maybe(timestamps),
        "checkpoints": maybe(st.lists(maybe(aftership_checkpoint), max_size=4)),
    },
)
aftership_captures = st.fixed_dictionaries(
    {"event_id": maybe(ids), "msg": maybe(aftership_msg)},
    optional={
        "event": maybe(st.sampled_from(["tracking_update", "edd_revise"])),
        "ts": maybe(st.one_of(st.integers(), st.floats(), st.integers().map(str))),
        "is_tracking_first_tag": junk,
    },
).map(encode_json)

kuaidi100_trace = st.fixed_dictionaries(
    {},
    optional={"context": maybe(texts), "time": maybe(timestamps), "ftime": maybe(timestamps)},
)
kuaidi100_last = st.fixed_dictionaries(
    {"nu": maybe(texts)},
    optional={
        "message": maybe(texts),
        "ischeck": maybe(st.sampled_from(["0", "1"])),
        "com": maybe(st.sampled_from(["zhongtong", "shunfeng", "unknownco"]) | texts),
        "state": maybe(st.sampled_from(["0", "2", "3", "5", "13", "14", "204", "999", "1001"]) | texts),
        "data": maybe(st.lists(maybe(kuaidi100_trace), max_size=4)),
    },
)
kuaidi100_push = st.fixed_dictionaries(
    {"lastResult": maybe(kuaidi100_last)},
    optional={
        "status": maybe(st.sampled_from(["polling", "shutdown", "abort", "updateall"])),
        "message": maybe(texts),
        "autoCheck": maybe(st.sampled_from(["0", "1"])),
        "comNew": maybe(texts),
    },
)
kuaidi100_captures = st.one_of(
    kuaidi100_push.map(encode_json),
    kuaidi100_last.map(encode_json),  # a bare poll/query.do response
    kuaidi100_push.map(lambda d: urlencode({"param": json.dumps(d), "sign": "ABC"}).encode()),
)

# e-mail: header blocks of known names with random values, and random or MIME-shaped bodies
HEADER_NAMES = [
    "From", "To", "Cc", "Reply-To", "Sender", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
    "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Content-Disposition", "Auto-Submitted",
    "Precedence", "List-Unsubscribe", "X-Autoreply", "X-Autorespond", "Return-Path",
]  # fmt: skip
CHARSETS = ["utf-8", "gb2312", "gbk", "gb18030", "big5", "big5-hkscs", "iso-8859-1", "utf-7", "bogus", ""]
CONTENT_TYPES = [
    'multipart/alternative; boundary="b1"', 'multipart/mixed; boundary="b1"',
    "multipart/report; report-type=delivery-status; boundary=b1", "text/plain; charset={cs}",
    "text/html; charset={cs}", "text/html", "message/rfc822", "message/delivery-status",
    "application/octet-stream; name=a.pdf", "multipart/alternative", "text/plain; charset=",
]  # fmt: skip
ENCODINGS = ["base64", "quoted-printable", "8bit", "7bit", "x-uuencode", "bogus"]


def _line(value: bytes) -> bytes:
    return value.replace(b"\r", b" ").replace(b"\n", b" ")


@st.composite
def encoded_words(draw: st.DrawFn) -> bytes:
    charset = draw(st.sampled_from(CHARSETS)).encode()
    kind = draw(st.sampled_from([b"B", b"Q", b"b", b"x"]))
    payload = draw(st.binary(max_size=30)).replace(b"?", b"").replace(b"\r", b"").replace(b"\n", b"")
    return b"=?" + charset + b"?" + kind + b"?" + payload + b"?="


@st.composite
def header_values(draw: st.DrawFn) -> bytes:
    charset = draw(st.sampled_from(CHARSETS)) or "utf-8"
    value = draw(
        st.one_of(
            texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
            texts.map(lambda t: t.encode(charset, "replace") if charset in {"gbk", "big5"} else t.encode("utf-8", "replace")),
            st.binary(max_size=40),
            encoded_words(),
            st.lists(encoded_words(), min_size=2, max_size=3).map(b" ".join),
            st.sampled_from([b"<a@b>", b"<a@b> <c@d>", b"Wed, 05 Aug 2026 20:41:12 +0800", b"Mon, 99 Foo 99999 99:99",
                             b"\"Name\" <x@y.z>", b"<>", b"undisclosed-recipients:;", b"auto-replied", b"bulk"]),
            st.sampled_from(CONTENT_TYPES).map(lambda c: c.format(cs=charset).encode()),
            st.sampled_from(ENCODINGS).map(str.encode),
        )
    )  # fmt: skip
    value = _line(value)
    if draw(st.booleans()) and len(value) > 4:
        value = value[:4] + b"\r\n\t" + value[4:]  # a folded header
    return value


@st.composite
def mime_parts(draw: st.DrawFn, depth: int = 0) -> bytes:
    charset = draw(st.sampled_from(CHARSETS)) or "utf-8"
    ctype = draw(st.sampled_from(CONTENT_TYPES)).format(cs=charset)
    headers = b"Content-Type: " + ctype.encode()
    if draw(st.booleans()):
        headers += b"\r\nContent-Transfer-Encoding: " + draw(st.sampled_from(ENCODINGS)).encode()
    if draw(st.booleans()):
        headers += b'\r\nContent-Disposition: attachment; filename="' + _line(draw(header_values())) + b'"'
    if depth < 1 and ctype.startswith("multipart") and draw(st.booleans()):
        body = draw(multipart_body(depth + 1))
    else:
        text = draw(texts)
        body = draw(
            st.one_of(
                st.binary(max_size=200),
                st.just(text.encode("utf-8", "surrogatepass")),
                st.just(text.encode(charset, "replace") if charset in {"gbk", "big5", "gb18030"} else b""),
                st.just(b"<html><body><p>" + text.encode("utf-8", "replace") + b"</p></body></html>"),
                st.sampled_from([b"5a6i5pyN5L2g5aW9", b"=E5=AE=A2=\r\n=E6", b"Final-Recipient: rfc822; a@b\r\n"
                                 b"Action: failed\r\nStatus: 5.1.1\r\n"]),
            )
        )  # fmt: skip
    return headers + b"\r\n\r\n" + body


@st.composite
def multipart_body(draw: st.DrawFn, depth: int = 0) -> bytes:
    boundary = b"b1" if depth == 0 else b"b2"
    parts = draw(st.lists(mime_parts(depth), max_size=3))
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    if draw(st.booleans()):
        body += b"--" + boundary + b"--\r\n"
    return draw(st.binary(max_size=10)) + body


@st.composite
def email_captures(draw: st.DrawFn) -> bytes:
    names = draw(st.lists(st.sampled_from(HEADER_NAMES), min_size=1, max_size=10))
    head = b"".join(name.encode() + b": " + draw(header_values()) + b"\r\n" for name in names)
    body = draw(st.one_of(st.binary(max_size=300), texts.map(lambda t: t.encode("utf-8", "replace")), multipart_body()))
    message = head + b"\r\n" + body
    if draw(st.booleans()):  # an mbox of one or two messages
        separator = b"From a@b Wed Aug  5 20:41:12 2026\n"
        message = separator + message + (b"\n\n" + separator + message if draw(st.booleans()) else b"")
    return message


PLAUSIBLE: dict[str, st.SearchStrategy[bytes]] = {
    "email": email_captures(),
    "mastodon": mastodon_captures,
    "x": x_captures,
    "twilio": twilio_captures,
    "aftership": aftership_captures,
    "kuaidi100": kuaidi100_captures,
}


# ---------------------------------------------------------------- the properties


def test_every_connector_has_a_plausible_shape() -> None:
    """A new connector plugin must add its capture shape here (else it gets only generic JSON)."""
    assert set(CONNECTORS) <= set(PLAUSIBLE), sorted(set(CONNECTORS) - set(PLAUSIBLE))


@pytest.mark.parametrize("name", CONNECTORS)
@TOTALITY
@given(data=st.binary(max_size=2000))
def test_arbitrary_bytes(name: str, data: bytes) -> None:
    check_total(name, data)


@pytest.mark.parametrize("name", CONNECTORS)
@TOTALITY
@given(value=json_values)
def test_arbitrary_json(name: str, value: Any) -> None:
    check_total(name, encode_json(value))


@pytest.mark.parametrize("name", CONNECTORS)
@TOTALITY
@given(data=st.data())
def test_plausible_captures(name: str, data: st.DataObject) -> None:
    strategy = PLAUSIBLE.get(name, json_values.map(encode_json))
    check_total(name, data.draw(strategy))


@pytest.mark.parametrize("name", CONNECTORS)
@TOTALITY
@given(data=st.data())
def test_parse_of_any_stored_payload(name: str, data: st.DataObject) -> None:
    """``parse`` alone (``hub quarantine retry`` re-parses stored payloads) is total too."""
    payload = data.draw(
        st.one_of(st.binary(max_size=500), json_values.map(encode_json), PLAUSIBLE.get(name, st.binary()))
    )
    check_parse(name, raw_item(name, payload))


# ---------------------------------------------------------------- regressions found by the properties
