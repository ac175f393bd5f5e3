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

import base64
import copy
import json
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.errors import ParseError
from hub.models import Channel, ComplaintMessage, Identity, IdentityKind, RawItem
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
    return RawItem(
        connector=name, instance=f"{name}-t", native_id="n-1", received_at=RECEIVED, payload=payload
    )


# ---------------------------------------------------------------- generic strategies

#: words that steer the understanding steps into their interesting paths
_WORDS = (
    "订单号|运单号|快递|没收到|退款|坏了|冒烟|第三次|投诉|谢谢|態度很差|順豐|幺三八|零|两|杠|HM20260805-12980|"
    "W2608203|SF1588204417364|1Z999AA10123456784|RR123456785CN|78312098475561|13501238877|+8613761029384|"
    "0933-271-608|￥399.00|$189.98|2026-08-15|100081|a@b.co|x@例子.中国|double eight|oh|one three eight|J D|"
    "refund|broken|third time|tracking|order|not|不是|没有|@hemumall|@a@b.social|https://t.co/x|<p>|</p>|<br>|"
    "<script>x</script>|&amp;|&#0;|👍|#|re:|*|(|[|\\|。|？？"
)
WORDS = [*_WORDS.split("|"), "\u0000", "\ufeff", "\u2029", "\ud800", "\n", "\r\n", "  "]

words = st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join)
texts = st.one_of(
    st.text(max_size=60), words, st.text(alphabet="订单号运单快递零一二三幺杠0123456789 -", max_size=40)
)
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
    st.one_of(
        texts,
        st.sampled_from(
            [
                '<span class="h-card"><a href="x">@<span>hemumall</span></a></span>',
                "<p>",
                "</p>",
                "<br/>",
                "<a href='https://t.co/x'>link</a>",
                "<style>p{}</style>",
                "<img src=x onerror=y>",
                "<!-- c -->",
                "&lt;",
                "<div",
                "</",
            ]
        ),
    ),
    max_size=10,
).map("".join)
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
                maybe(
                    st.fixed_dictionaries(
                        {}, optional={"type": junk, "url": maybe(texts), "remote_url": junk}
                    )
                ),
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
            st.lists(
                maybe(
                    st.fixed_dictionaries(
                        {"type": maybe(st.sampled_from(["replied_to", "quoted"])), "id": maybe(ids)}
                    )
                ),
                max_size=3,
            )
        ),
        "entities": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "urls": maybe(
                        st.lists(
                            maybe(
                                st.fixed_dictionaries(
                                    {"url": maybe(texts)},
                                    optional={"expanded_url": maybe(texts), "unwound_url": maybe(texts)},
                                )
                            ),
                            max_size=3,
                        )
                    ),
                    "mentions": maybe(
                        st.lists(maybe(st.fixed_dictionaries({"username": maybe(texts)})), max_size=3)
                    ),
                },
            )
        ),
        "attachments": maybe(st.fixed_dictionaries({"media_keys": maybe(st.lists(junk, max_size=3))})),
    },
)
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
        "From": maybe(
            st.sampled_from(["+8613501238877", "+266696687", "(617) 555-0143", "anonymous"]) | texts
        ),
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
        lambda d: urlencode(
            {k: "" if v is None else str(v) for k, v in d.items()}, errors="surrogatepass"
        ).encode()
    ),
)

aftership_tags = st.sampled_from(
    [
        "Pending",
        "InfoReceived",
        "InTransit",
        "OutForDelivery",
        "AttemptFail",
        "Delivered",
        "AvailableForPickup",
        "Exception",
        "Expired",
        "Bogus",
    ]
)
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
_HEADER_NAMES = (
    "From To Cc Reply-To Sender Subject Date Message-ID In-Reply-To References MIME-Version Content-Type "
    "Content-Transfer-Encoding Content-Disposition Auto-Submitted Precedence List-Unsubscribe X-Autoreply "
    "X-Autorespond Return-Path"
)
HEADER_NAMES = _HEADER_NAMES.split()
CHARSETS = ["utf-8", "gb2312", "gbk", "gb18030", "big5", "big5-hkscs", "iso-8859-1", "utf-7", "bogus", ""]
CONTENT_TYPES = [
    'multipart/alternative; boundary="b1"',
    'multipart/mixed; boundary="b1"',
    "multipart/report; report-type=delivery-status; boundary=b1",
    "text/plain; charset={cs}",
    "text/html; charset={cs}",
    "text/html",
    "message/rfc822",
    "message/delivery-status",
    "application/octet-stream; name=a.pdf",
    "multipart/alternative",
    "text/plain; charset=",
]
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
            texts.map(
                lambda t: (
                    t.encode(charset, "replace")
                    if charset in {"gbk", "big5"}
                    else t.encode("utf-8", "replace")
                )
            ),
            st.binary(max_size=40),
            encoded_words(),
            st.lists(encoded_words(), min_size=2, max_size=3).map(b" ".join),
            st.sampled_from(
                [
                    b"<a@b>",
                    b"<a@b> <c@d>",
                    b"Wed, 05 Aug 2026 20:41:12 +0800",
                    b"Mon, 99 Foo 99999 99:99",
                    b'"Name" <x@y.z>',
                    b"<>",
                    b"undisclosed-recipients:;",
                    b"auto-replied",
                    b"bulk",
                ]
            ),
            st.sampled_from(CONTENT_TYPES).map(lambda c: c.format(cs=charset).encode()),
            st.sampled_from(ENCODINGS).map(str.encode),
        )
    )
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
                st.sampled_from(
                    [
                        b"5a6i5pyN5L2g5aW9",
                        b"=E5=AE=A2=\r\n=E6",
                        b"Final-Recipient: rfc822; a@b\r\nAction: failed\r\nStatus: 5.1.1\r\n",
                    ]
                ),
            )
        )
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
    body = draw(
        st.one_of(
            st.binary(max_size=300), texts.map(lambda t: t.encode("utf-8", "replace")), multipart_body()
        )
    )
    message = head + b"\r\n" + body
    if draw(st.booleans()):  # an mbox of one or two messages
        separator = b"From a@b Wed Aug  5 20:41:12 2026\n"
        message = separator + message + (b"\n\n" + separator + message if draw(st.booleans()) else b"")
    return message


# ---------------------------------------------------------------- real captures, mutated
#
# A near-valid capture with one to four fields broken reaches the deep code far more
# often than a shape generated from scratch: each seed below is a real-shaped capture;
# a mutation replaces the value at a random path with junk (wrong type, odd time, huge
# number, nested JSON) or deletes it. E-mail seeds get byte and header mutations.

SEEDS: dict[str, list[Any]] = {
    "mastodon": [
        {
            "id": "41872004",
            "type": "mention",
            "created_at": "2026-08-06T13:10:22.000Z",
            "account": {
                "id": "1098",
                "username": "linawang",
                "acct": "linawang@m.cmx.im",
                "display_name": "丽娜Lina",
                "url": "https://m.cmx.im/@linawang",
            },
            "status": {
                "id": "117048726126605409",
                "created_at": "2026-08-06T13:10:22.000Z",
                "in_reply_to_id": "117048726126605400",
                "spoiler_text": "",
                "visibility": "direct",
                "language": "zh",
                "uri": "https://m.cmx.im/users/linawang/statuses/117048726126605409",
                "url": "https://m.cmx.im/@linawang/117048726126605409",
                "content": '<p><span class="h-card"><a href="https://mastodon.social/@hemumall" '
                'class="u-url mention">@<span>hemumall</span></a></span> 电热水壶第一次用就冒烟跳闸，'
                "订单号 HM20260803-10427，电话 138 0013 8000<br>第三次找你们了</p>",
                "account": {"id": "1098", "acct": "linawang@m.cmx.im", "display_name": "丽娜Lina"},
                "media_attachments": [
                    {"type": "image", "url": "https://files.example/a/b/photo.jpg", "description": "底座烧焦"}
                ],
            },
        },
    ],
    "x": [
        {
            "data": [
                {
                    "id": "2089055107285010135",
                    "text": "@HemuMall still waiting &amp; no reply https://t.co/abc",
                    "author_id": "787687957",
                    "created_at": "2026-08-16T18:22:05.000Z",
                    "conversation_id": "2088425487725778924",
                    "lang": "en",
                    "referenced_tweets": [{"type": "replied_to", "id": "2088425487725778924"}],
                    "entities": {
                        "urls": [
                            {"url": "https://t.co/abc", "expanded_url": "https://example.com/o/W2608203"}
                        ],
                        "mentions": [{"username": "HemuMall"}],
                    },
                    "attachments": {"media_keys": ["3_1"]},
                },
                {
                    "id": "2088597898786007165",
                    "text": "@HemuMall 中通78312098475561 显示丰巢签收,可我根本没收到??",
                    "author_id": "3940623020",
                    "created_at": "2026-08-15T12:05:18.000Z",
                    "conversation_id": "2088597898786007165",
                    "lang": "zh",
                },
            ],
            "includes": {
                "users": [
                    {"id": "787687957", "name": "Sarah Mitchell", "username": "sarahmitch_pdx"},
                    {"id": "3940623020", "name": "刘洋Yang", "username": "liuyang_sh"},
                    {"id": "1", "name": "Hemu", "username": "HemuMall"},
                ],
                "media": [{"media_key": "3_1", "type": "photo"}],
                "tweets": [{"id": "2088425487725778924", "text": "you charged me twice"}],
            },
            "meta": {"result_count": 2, "newest_id": "2089055107285010135"},
        },
    ],
    "twilio": [
        {
            "AccountSid": "AC3f9e1c07b4d2a8856e0f7c1b9a2d4e63",
            "CallSid": "CA5d14eb04e9273d2bef1fe6720b013f7b",
            "RecordingSid": "RE64c40adf1bc0f57a3079e8b807737e25",
            "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC3f/Recordings/RE64",
            "TranscriptionSid": "TR3db616d1608bb7249a52023f5ccb5307",
            "TranscriptionText": "喂 我姓李 订单号我念一下啊 四幺二八 八三零九 幺七二六 五五四零 二幺三 "
            "滤网灯一直闪 "
            "我电话是一三五零一二三八八七七 this is the third time i am calling",
            "TranscriptionStatus": "completed",
            "From": "+8613501238877",
            "To": "+85230018800",
            "Direction": "inbound",
        },
    ],
    "aftership": [
        {
            "event": "tracking_update",
            "event_id": "24c14162-65d3-42c1-9377-603c4cb924cb",
            "is_tracking_first_tag": True,
            "msg": {
                "id": "04845652e986731362986382",
                "tracking_number": "YT7548203917265",
                "slug": "yto",
                "title": "HM20260805-12980",
                "order_id": "HM20260805-12980",
                "customer_name": "赵雪",
                "emails": ["Zhao.Xue@example.com"],
                "smses": ["+8613761029384"],
                "customers": [
                    {
                        "role": "buyer",
                        "name": "赵雪",
                        "email": "zx@example.com",
                        "phone_number": "+8613761029384",
                    }
                ],
                "tag": "Exception",
                "subtag": "Exception_011",
                "subtag_message": "Returned to sender",
                "updated_at": "2026-08-09T08:41:39+00:00",
                "expected_delivery": "2026-08-10",
                "checkpoints": [
                    {
                        "checkpoint_time": "2026-08-06T19:10:00+08:00",
                        "message": "【杭州】已揽收",
                        "location": "浙江省杭州市",
                        "tag": "InTransit",
                    },
                    {
                        "checkpoint_time": "2026-08-09T16:41:00+08:00",
                        "message": "退回寄件人",
                        "location": "上海",
                        "tag": "Exception",
                    },
                ],
            },
            "ts": 1786264899,
        },
    ],
    "kuaidi100": [
        {
            "status": "polling",
            "message": "",
            "autoCheck": "1",
            "comNew": "zhongtong",
            "lastResult": {
                "message": "ok",
                "nu": "78312098475561",
                "ischeck": "0",
                "com": "zhongtong",
                "status": "200",
                "state": "204",
                "data": [
                    {
                        "context": "【上海市】派件员【周师傅】派件异常，电话：13671858290",
                        "time": "2026-08-15 09:10:44",
                        "ftime": "2026-08-15 09:10:44",
                    },
                    {
                        "context": "【杭州市】快件已揽收",
                        "time": "2026-08-13 18:30:00",
                        "ftime": "2026-08-13 18:30:00",
                    },
                ],
            },
        },
    ],
}

replacements = st.one_of(
    junk,
    timestamps,
    st.sampled_from(
        [1e300, -1e300, 2**70, -(2**70), 9.3e18, 253402300800, float("nan"), float("inf"), "", " ", []]
    ),
    json_values,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, seed: Any) -> Any:
    """``seed`` (deep-copied) with one to four values replaced or removed."""
    doc = copy.deepcopy(seed)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(doc)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.integers(min_value=0, max_value=3)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(replacements)
    return doc


def json_mutations(name: str) -> st.SearchStrategy[bytes]:
    docs = st.sampled_from(SEEDS[name]).flatmap(mutated)
    if name == "mastodon":  # one notification, or the array the endpoint returns
        docs = st.one_of(docs, st.lists(docs, min_size=1, max_size=3))
    if name == "kuaidi100":  # JSON body, or the raw param=...&sign=... form
        return st.one_of(
            docs.map(encode_json),
            docs.map(lambda d: urlencode({"param": json.dumps(d), "sign": "ABC"}).encode()),
        )
    return docs.map(encode_json)


def _crlf(*lines: str | bytes) -> bytes:
    return b"\r\n".join(line if isinstance(line, bytes) else line.encode() for line in lines)


def _seed_emails() -> list[bytes]:
    gbk_text = (
        "您好：\n订单号 HM20260803-10427 的电水壶坏了。\n\n> 旧邮件\n在 2026年8月1日 写道：\n> 以前的\n"
        "--\n发自我的iPhone"
    )
    big5_text = "包裹顯示已簽收但我沒收到，順豐 SF1588204417364。\nFrom: 客服\nSent: 2026\n舊內容"
    alternative = _crlf(
        "From: =?GB2312?B?1tjO5A==?= <lina@163.com>",
        "To: service@hemumall.example.com",
        "Subject: =?gb2312?B?tefIyMuuuvi1xM7KzOI=?=",
        "Date: Wed, 05 Aug 2026 20:41:12 +0800",
        "Message-ID: <a1@163.com>",
        "In-Reply-To: <prev@hemumall>",
        "References: <root@hemumall>",
        " <prev@hemumall>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/alternative; boundary="b1"',
        "",
        "--b1",
        "Content-Type: text/plain; charset=gb2312",  # declared GB2312, GBK bytes
        "Content-Transfer-Encoding: 8bit",
        "",
        gbk_text.encode("gbk").replace(b"\n", b"\r\n"),
        "--b1",
        "Content-Type: text/html; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "<html><head><style>p{}</style></head><body><p>=E6=82=A8=E5=A5=BD",
        '<img src=3D"http://t/p.gif" width=3D1></p><script>x()</script></body></html>',
        "--b1--",
        "",
    )
    dsn = _crlf(
        "From: MAILER-DAEMON@mx.example.com",
        "To: service@hemumall.example.com",
        "Subject: Undelivered Mail Returned to Sender",
        "Date: Thu, 06 Aug 2026 01:00:00 +0000",
        "Message-ID: <dsn1@mx>",
        "Auto-Submitted: auto-replied",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r1"',
        "",
        "--r1",
        "Content-Type: text/plain",
        "",
        "I'm sorry to have to inform you...",
        "--r1",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx",
        "",
        "Final-Recipient: rfc822; lina@163.com",
        "Action: failed",
        "Status: 5.1.1",
        "--r1",
        "Content-Type: message/rfc822",
        "",
        "Message-ID: <reply7@hemumall>",
        "Subject: =?utf-8?B?5oKo55qE6K6i5Y2V?=",
        "References: <a1@163.com>",
        "",
        "body",
        "--r1--",
        "",
    )
    big5 = _crlf(
        'From: "=?big5?B?qkyrQrZR?=" <yuting@example.tw>',
        "To: service@hemumall.example.com",
        "Subject: =?big5?Q?=A5]=BBq=A8S=A6=AC=A8=EC?=",
        "Date: Sat, 12 Sep 2026 09:00:00 +0800",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="m1"',
        "",
        "--m1",
        "Content-Type: text/plain; charset=big5",
        "Content-Transfer-Encoding: base64",
        "",
        base64.encodebytes(big5_text.encode("big5")).replace(b"\n", b"\r\n"),
        "--m1",
        'Content-Type: image/jpeg; name="=?utf-8?B?54Wn54mHLmpwZw==?="',
        'Content-Disposition: attachment; filename="photo.jpg"',
        "Content-Transfer-Encoding: base64",
        "",
        "/9j/4AAQSkZJRgABAQ==",
        "--m1--",
        "",
    )
    auto = _crlf(
        "From: Bob <bob@example.com>",
        "Subject: Out of office: Re: your order",
        "Auto-Submitted: auto-replied",
        "X-Autoreply: yes",
        "Precedence: bulk",
        "List-Unsubscribe: <mailto:u@x>",
        "",
        "I am away.",
        "",
    )
    return [alternative, dsn, big5, auto]


SEED_EMAILS = _seed_emails()


@st.composite
def mutated_emails(draw: st.DrawFn) -> bytes:
    """A seed e-mail with header values swapped for odd ones and bytes flipped, cut or inserted."""
    data = draw(st.sampled_from(SEED_EMAILS))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        op = draw(st.sampled_from(["header", "header", "flip", "insert", "delete", "truncate"]))
        if op == "header":
            lines = data.split(b"\r\n")
            candidates = [i for i, line in enumerate(lines) if b":" in line and line[:1].isalpha()]
            if candidates:
                i = draw(st.sampled_from(candidates))
                lines[i] = lines[i].split(b":", 1)[0] + b": " + draw(header_values())
                data = b"\r\n".join(lines)
            continue
        pos = draw(st.integers(min_value=0, max_value=len(data)))
        if op == "flip" and pos < len(data):
            data = data[:pos] + bytes([draw(st.integers(0, 255))]) + data[pos + 1 :]
        elif op == "insert":
            data = data[:pos] + draw(st.binary(min_size=1, max_size=20)) + data[pos:]
        elif op == "delete":
            data = data[:pos] + data[pos + draw(st.integers(1, 30)) :]
        elif op == "truncate":
            data = data[:pos]
    return data


PLAUSIBLE: dict[str, st.SearchStrategy[bytes]] = {
    "email": st.one_of(email_captures(), mutated_emails()),
    "mastodon": st.one_of(mastodon_captures, json_mutations("mastodon")),
    "x": st.one_of(x_captures, json_mutations("x")),
    "twilio": st.one_of(twilio_captures, json_mutations("twilio")),
    "aftership": st.one_of(aftership_captures, json_mutations("aftership")),
    "kuaidi100": st.one_of(kuaidi100_captures, json_mutations("kuaidi100")),
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
@TOTALITY
@given(
    channel=st.sampled_from(list(Channel)),
    subject=st.one_of(st.none(), texts, st.text()),
    text=st.one_of(texts, st.text(max_size=400), words),
    identities=st.lists(
        st.builds(Identity, kind=st.sampled_from(list(IdentityKind)), value=st.one_of(texts, st.text())),
        max_size=3,
    ),
)
def test_enrich_of_any_message(
    channel: Channel, subject: str | None, text: str, identities: list[Identity]
) -> None:
    """The understanding step never fails, whatever text a connector hands it."""
    msg = ComplaintMessage(
        connector=channel.value,
        native_id="n-1",
        channel=channel,
        occurred_at=RECEIVED,
        subject=subject,
        text=text,
        identities=identities,
    )
    enrich(msg)
    assert "understand_errors" not in msg.extra, msg.extra["understand_errors"]
    assert msg.category is not None or not msg.actionable


# ---------------------------------------------------------------- regressions found by the properties
# Each of these crashed split_capture (an exception other than ParseError) or produced a
# message that could not be stored (lone surrogates cannot be encoded as UTF-8).


@pytest.mark.parametrize(
    ("name", "capture"),
    [
        # huge / non-finite epoch: OverflowError, OSError or ValueError from datetime.fromtimestamp
        ("aftership", b'{"event_id": "e", "msg": {"tracking_number": "T1"}, "ts": 9.223372036854776e+18}'),
        ("aftership", b'{"event_id": "e", "msg": {"tracking_number": "T1"}, "ts": 253402300800.0}'),
        ("aftership", b'{"event_id": "e", "msg": {"tracking_number": "T1"}, "ts": NaN}'),
        ("aftership", b'{"event_id": "e", "msg": {"tracking_number": "T1"}, "ts": 1' + b"0" * 400 + b"}"),
        # checkpoints that are not an array: TypeError
        ("aftership", b'{"event_id": "e", "msg": {"tracking_number": "T1", "checkpoints": 1}}'),
        # a time that overflows when moved to UTC: OverflowError
        (
            "aftership",
            b'{"event_id": "e", "msg": {"tracking_number": "T1", "updated_at": "0001-01-01T00:00:00+01:00"}}',
        ),
        ("mastodon", b'{"status": {"id": "1", "created_at": "9999-12-31T23:59:00-12:00"}}'),
        ("kuaidi100", b'{"lastResult": {"nu": "1", "data": [{"ftime": "0001-01-01 00:00:00"}]}}'),
        ("x", b'{"data": [{"id": "1", "created_at": "0001-01-01T00:00:00+14:00"}]}'),
        # media keys that are not strings: "unhashable type: 'dict'"
        (
            "x",
            b'{"data": [{"id": "1", "attachments": {"media_keys": [{}]}}],'
            b' "includes": {"media": [{"media_key": []}]}}',
        ),
        ("x", b'{"data": [{"id": "1", "attachments": {"media_keys": 5}}]}'),
        # a Date that overflows when moved to UTC
        ("email", b"From: a@b.example\r\nDate: Fri, 31 Dec 9999 23:00:00 -0200\r\n\r\nhi\r\n"),
    ],
)
def test_regression_no_crash(name: str, capture: bytes) -> None:
    check_total(name, capture)


@pytest.mark.parametrize(
    ("name", "capture"),
    [
        # a lone surrogate escape is valid JSON but no text; json_bytes could not re-encode it
        (
            "mastodon",
            b'[{"type": "mention", "account": {"acct": "a@b.c"},'
            b' "status": {"id": "1", "content": "<p>\\ud800 bad</p>"}}]',
        ),
        ("x", b'{"data": [{"id": "1", "text": "\\udfff"}], "includes": {"users": [{"id": "\\ud800"}]}}'),
        ("twilio", b'{"TranscriptionSid": "TR1", "TranscriptionText": "broken \\udc80 kettle"}'),
        # raw 8-bit bytes in a header leaked as surrogate escapes into the evidence text
        ("email", b"From: a@b.example\r\nX-Autoreply: \xc2\x80\r\n\r\n"),
        ("email", b"From: a@b.example\r\nAuto-Submitted: auto-generated \xff\xfe\r\n\r\nhello\r\n"),
    ],
)
def test_regression_messages_are_storable(name: str, capture: bytes) -> None:
    messages = check_total(name, capture)
    assert messages
    for msg in messages:
        msg.model_dump_json().encode("utf-8")


def test_lone_surrogates_become_replacement_characters() -> None:
    (raw,) = get_connector("twilio").split_capture(
        b'{"TranscriptionSid": "TR1", "TranscriptionText": "a\\ud800b \\ud83d\\ude00"}',
        instance="t",
        received_at=RECEIVED,
    )
    assert get_connector("twilio").parse(raw).text == "a\ufffdb \U0001f600"  # a valid pair is kept
