"""E-mail connector: capture splitting and pure parsing (no network, no database)."""

from __future__ import annotations

import base64
import hashlib
import json
import quopri
from datetime import UTC, datetime
from email.header import Header
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import pytest

from connectors.email import EmailConnector
from connectors.email.charsets import decode_bytes
from connectors.email.headers import decode_header_value
from connectors.email.html import html_to_text
from hub.errors import ParseError
from hub.models import Channel, ComplaintMessage, Identity, IdentityKind, NonActionable, RawItem

RECEIVED = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parents[2] / ".." / "shared" / "corpus" / "dev"
CONNECTOR = EmailConnector()


def items(data: bytes) -> list[RawItem]:
    return CONNECTOR.split_capture(data, instance="test", received_at=RECEIVED, source="t.eml")


def parse(data: bytes | str) -> ComplaintMessage:
    if isinstance(data, str):
        data = data.encode("utf-8")
    (raw,) = items(data)
    return CONNECTOR.parse(raw)


def mail(
    body: bytes | str, *, headers: str = "", ctype: str = "text/plain; charset=utf-8", cte: str = "8bit"
) -> bytes:
    """A minimal RFC 5322 message; ``headers`` are extra header lines (no trailing newline)."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    head = (
        "From: Alice Example <Alice@Example.com>\r\n"
        "To: Support <support@shop.example>\r\n"
        "Subject: Order problem\r\n"
        "Date: Tue, 01 Sep 2026 10:00:00 +0800\r\n"
        "Message-ID: <msg-1@example.com>\r\n"
    )
    if headers:
        head += headers.replace("\n", "\r\n").rstrip("\r\n") + "\r\n"
    head += f"MIME-Version: 1.0\r\nContent-Type: {ctype}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n"
    return head.encode("utf-8") + body


# --- connector and capture -------------------------------------------------------------


def test_connector_declares_its_contract() -> None:
    assert EmailConnector.name == "email"
    assert EmailConnector.channel is Channel.email
    assert EmailConnector.capture_suffixes == (".eml", ".mbox")


def test_split_single_eml_uses_message_id_and_date() -> None:
    data = mail("hello", headers="").replace(b"<msg-1@example.com>", b"< abc.123@mail.example.com >")
    (raw,) = items(data)
    assert raw.connector == "email"
    assert raw.instance == "test"
    assert raw.native_id == "abc.123@mail.example.com"
    assert raw.occurred_at == datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    assert raw.received_at == RECEIVED
    assert raw.payload == data
    assert raw.source == "t.eml"


def test_leading_blank_lines_are_tolerated_and_payload_kept_exact() -> None:
    data = b"\r\n" + mail("Still waiting.")
    (raw,) = items(data)
    assert raw.payload == data
    assert CONNECTOR.parse(raw).text == "Still waiting."


def test_split_without_message_id_uses_sha256_and_bad_date_gives_none() -> None:
    data = b"From: a@b.example\r\nDate: not a date\r\nSubject: hi\r\n\r\nbody\r\n"
    (raw,) = items(data)
    assert raw.native_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert raw.occurred_at is None


def test_split_mbox_with_three_messages_unescapes_from_lines() -> None:
    mbox = (
        b"From alice@example.com Tue Sep  1 10:00:00 2026\n"
        b"From: alice@example.com\nMessage-ID: <one@x>\nDate: Tue, 01 Sep 2026 10:00:00 +0000\nSubject: 1\n\n"
        b"first body\n>From the start it broke.\n\n"
        b"From bob@example.com Tue Sep  1 11:00:00 2026\n"
        b"From: bob@example.com\nMessage-ID: <two@x>\nSubject: 2\n\nsecond body\n\n"
        b"From carol@example.com Tue Sep  1 12:00:00 2026\n"
        b"From: carol@example.com\nMessage-ID: <three@x>\nSubject: 3\n\nthird body\n"
    )
    raws = items(mbox)
    assert [r.native_id for r in raws] == ["one@x", "two@x", "three@x"]
    assert raws[0].occurred_at == datetime(2026, 9, 1, 10, 0, tzinfo=UTC)
    first = CONNECTOR.parse(raws[0])
    assert "From the start it broke." in first.text
    assert ">From" not in first.text
    assert CONNECTOR.parse(raws[2]).text == "third body"


@pytest.mark.parametrize("data", [b"", b"   \r\n\r\n"])
def test_split_empty_input_raises(data: bytes) -> None:
    with pytest.raises(ParseError, match="empty"):
        items(data)


@pytest.mark.parametrize(
    "data",
    [
        b'{"type": "mention", "status": {"id": "1"}}',
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
        b"just some words\nand more words\n",
        b"Hello: world\nFoo: bar\n\nnot an e-mail header set",
    ],
)
def test_split_non_email_raises_readable_reason(data: bytes) -> None:
    with pytest.raises(ParseError, match="not an RFC 5322 message"):
        items(data)


def test_parse_rejects_garbage_payload_with_parse_error() -> None:
    raw = RawItem(connector="email", instance="t", native_id="x", received_at=RECEIVED, payload=b"\x00\x01")
    with pytest.raises(ParseError):
        CONNECTOR.parse(raw)


def test_parse_wraps_unexpected_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors.email.parse as parse_module

    def boom(_msg: object) -> None:
        raise ValueError("kaboom")

    monkeypatch.setattr(parse_module, "walk", boom)
    with pytest.raises(ParseError, match="kaboom"):
        parse(mail("hi"))


# --- basic fields --------------------------------------------------------------------------


def test_parse_fills_basic_fields_and_leaves_understanding_empty() -> None:
    msg = parse(mail("My kettle broke.\n"))
    assert msg.channel is Channel.email
    assert msg.connector == "email"
    assert msg.instance == "test"
    assert msg.native_id == "msg-1@example.com"
    assert msg.thread_key == "email:msg-1@example.com"
    assert msg.occurred_at == datetime(2026, 9, 1, 2, 0, tzinfo=UTC)
    assert msg.subject == "Order problem"
    assert msg.text == "My kettle broke."
    assert msg.actionable is True
    assert (msg.order_nos, msg.tracking_nos, msg.category, msg.severity, msg.language) == (
        [],
        [],
        None,
        None,
        None,
    )
    assert msg.extra["from"] == "alice@example.com"
    assert msg.extra["to"] == ["support@shop.example"]
    json.dumps(msg.extra)


def test_occurred_at_falls_back_to_raw_times() -> None:
    data = b"From: a@b.example\r\nSubject: x\r\nMessage-ID: <n@d>\r\n\r\nbody\r\n"
    (raw,) = items(data)
    assert CONNECTOR.parse(raw).occurred_at == RECEIVED
    dated = raw.model_copy(update={"occurred_at": datetime(2026, 1, 2, tzinfo=UTC)})
    assert CONNECTOR.parse(dated).occurred_at == datetime(2026, 1, 2, tzinfo=UTC)


def test_identities_name_and_reply_to() -> None:
    data = mail("hi", headers="Reply-To: alice.work@corp.example").replace(
        b"From: Alice Example <Alice@Example.com>", b"From: =?UTF-8?B?546L5Li95aic?= <Lina.Wang@163.com>"
    )
    msg = parse(data)
    assert msg.customer_name == "王丽娜"
    assert msg.identities == [
        Identity(kind=IdentityKind.email, value="lina.wang@163.com"),
        Identity(kind=IdentityKind.name, value="王丽娜"),
        Identity(kind=IdentityKind.email, value="alice.work@corp.example"),
    ]


def test_from_header_encoded_as_a_whole() -> None:
    encoded = Header("王伟 <Wang@X.cn>", "utf-8").encode()
    msg = parse(mail("hi").replace(b"Alice Example <Alice@Example.com>", encoded.encode()))
    assert msg.extra["from"] == "wang@x.cn"
    assert msg.customer_name == "王伟"


@pytest.mark.parametrize("display", ["", '"bob@example.com"', "bob", "Mail Delivery System"])
def test_display_name_that_is_not_a_person_is_ignored(display: str) -> None:
    data = mail("hi").replace(b"Alice Example <Alice@Example.com>", f"{display} <bob@example.com>".encode())
    msg = parse(data)
    assert msg.customer_name is None
    assert msg.identities == [Identity(kind=IdentityKind.email, value="bob@example.com")]


def test_thread_and_parent_keys_keep_order_without_duplicates() -> None:
    headers = "In-Reply-To: <b@x>\nReferences: <a@x>\n <b@x>  <c@x>"
    msg = parse(mail("hi", headers=headers))
    assert msg.parent_keys == ["email:b@x", "email:a@x", "email:c@x"]


# --- charsets and subjects ------------------------------------------------------------


def test_gbk_body_declared_gb2312_decodes_as_gb18030() -> None:
    text = "我叫王喆，订单号HM20260803-10427，镕铸的壶坏了。"
    with pytest.raises(UnicodeEncodeError):
        text.encode("gb2312")  # 喆 and 镕 exist only in GBK
    body = base64.encodebytes(text.encode("gbk"))
    msg = parse(mail(body, ctype='text/plain; charset="gb2312"', cte="base64"))
    assert msg.text == text
    assert msg.extra["charset"] == "gb18030"


def test_hkscs_body_declared_big5_decodes_as_big5hkscs() -> None:
    text = "我想投訴你哋嘅客服，佢冇回覆我，訂單 W2608502。"
    with pytest.raises(UnicodeEncodeError):
        text.encode("big5")  # 哋, 嘅, 冇 are HKSCS additions
    body = base64.encodebytes(text.encode("big5hkscs"))
    msg = parse(mail(body, ctype="text/plain; charset=big5", cte="base64"))
    assert msg.text == text
    assert msg.extra["charset"] == "big5hkscs"


def test_undeclared_charset_is_detected() -> None:
    text = "你好，我的订单到现在还没有发货，客服电话也一直打不通，请尽快处理，谢谢。"
    msg = parse(mail(text.encode("gbk"), ctype="text/plain"))
    assert msg.text == text


def test_wrongly_declared_charset_is_corrected() -> None:
    text = "包裹显示已签收，但是我根本没有收到。"
    assert parse(mail(text.encode("utf-8"), ctype="text/plain; charset=gb2312")).text == text
    wrong = parse(mail(text.encode("gbk"), ctype="text/plain; charset=utf-8"))
    assert wrong.text == text
    assert (wrong.extra["charset"], wrong.extra["declared_charset"]) == ("gb18030", "utf-8")
    assert parse(mail(text.encode("gbk"), ctype="text/plain; charset=iso-8859-1")).text == text


def test_quoted_printable_gb2312_body() -> None:
    text = "客服您好，价保申请被拒，请人工复核。"
    body = quopri.encodestring(text.encode("gb2312"))
    msg = parse(mail(body, ctype='text/plain; charset="gb2312"', cte="quoted-printable"))
    assert msg.text == text


def test_rfc2047_subjects_b_q_and_mixed_charsets() -> None:
    gbk = base64.b64encode("王喆投诉".encode("gbk")).decode()
    utf8_q = "=E8=AE=A2=E5=8D=95_W2608114"  # "订单 W2608114"
    subject = f"=?gb2312?B?{gbk}?= =?utf-8?Q?{utf8_q}?="
    msg = parse(mail("hi").replace(b"Subject: Order problem", f"Subject: {subject}".encode()))
    assert msg.subject == "王喆投诉订单 W2608114"


def test_rfc2047_word_split_inside_a_character_and_big5() -> None:
    raw = "訂單卡在海關".encode("big5")
    first, second = base64.b64encode(raw[:3]).decode(), base64.b64encode(raw[3:]).decode()
    value = f"=?big5?B?{first}?=\r\n =?big5?B?{second}?="
    assert decode_header_value(value) == "訂單卡在海關"
    assert decode_header_value("=?utf-8?b?5L2g5aW9?") == "=?utf-8?b?5L2g5aW9?"  # not a word: kept
    assert decode_header_value("=?UTF-8?B?5L2g5aW9?=") == "你好"
    assert decode_header_value("=?UTF-8?B?5L2g5aW9?=") == decode_header_value("=?UTF-8?B?5L2g5aW9=?=")


def test_raw_8bit_subject_and_display_name() -> None:
    data = (
        mail("hi")
        .replace(b"Subject: Order problem", "Subject: 退款没到账".encode())
        .replace(b"Alice Example", "张伟".encode("gbk"))
    )
    msg = parse(data)
    assert msg.subject == "退款没到账"
    assert msg.customer_name == "张伟"


def test_decode_bytes_prefers_declared_superset() -> None:
    assert decode_bytes("喆".encode("gbk"), "gb2312") == ("喆", "gb18030")
    assert decode_bytes(b"plain", "utf-8") == ("plain", "utf-8")


# --- HTML --------------------------------------------------------------------------------

HTML = """<html><head><title>ignored title</title><style>p {color: red}</style>
<script>var tracking = "secret";</script></head><body>
<div>Hello,</div><div><br></div>
<p>My order W2608156 arrived <b>broken</b>.</p>
<ul><li>first</li><li>second</li></ul>
<table><tr><td>Item</td><td>Jacket</td></tr></table>
<img src="https://t.example/open.gif" width="1" height="1" alt="pixel">
<span style="display:none">hidden preheader</span>
<div>Line one<br>Line two</div>
</body></html>"""


def test_html_only_message_is_cleaned() -> None:
    msg = parse(mail(HTML, ctype="text/html; charset=utf-8"))
    assert msg.extra["html_only"] is True
    for junk in ("secret", "ignored title", "color", "pixel", "hidden preheader", "<"):
        assert junk not in msg.text
    assert msg.text == (
        "Hello,\n\nMy order W2608156 arrived broken.\n\nfirst\nsecond\nItem Jacket\nLine one\nLine two"
    )


def _alternative(plain: str, html: str) -> bytes:
    outer = MIMEMultipart("alternative")
    outer["From"] = "Alice <alice@example.com>"
    outer["Subject"] = "x"
    outer["Message-ID"] = "<alt@x>"
    outer.attach(MIMEText(plain, "plain", "utf-8"))
    outer.attach(MIMEText(html, "html", "utf-8"))
    return outer.as_bytes()


def test_alternative_prefers_plain_text() -> None:
    msg = parse(_alternative("Plain version of the complaint.", "<p>HTML version</p>"))
    assert msg.text == "Plain version of the complaint."
    assert msg.extra["html_only"] is False


@pytest.mark.parametrize(
    "plain", ["", "  \n ", "This is an HTML message. Please use an HTML capable mail client."]
)
def test_alternative_falls_back_to_html_when_plain_is_useless(plain: str) -> None:
    msg = parse(_alternative(plain, "<p>The real complaint text.</p>"))
    assert msg.text == "The real complaint text."
    assert msg.extra["html_only"] is True


def test_html_blockquote_and_signature_blocks() -> None:
    html = (
        '<div dir="ltr">New text here.<div class="gmail_signature">Alice<br>+1 555 0100</div>'
        '<div class="gmail_quote"><div>On Mon, Aug 31, 2026 at 2:20 PM Shop &lt;s@shop.example&gt;'
        " wrote:</div>"
        "<blockquote>Old reply<blockquote>older</blockquote></blockquote></div></div>"
    )
    assert "> Old reply" in html_to_text(html)
    msg = parse(mail(html, ctype="text/html; charset=utf-8"))
    assert msg.text == "New text here."
    assert msg.extra["signature"] == "Alice\n+1 555 0100"


def test_deeply_nested_html_does_not_recurse() -> None:
    html = "<div>" * 5000 + "deep text" + "</div>" * 5000
    assert html_to_text(html) == "deep text"


def test_inline_data_images_are_dropped_and_huge_html_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    import connectors.email.html as html_module

    image = base64.b64encode(b"\x89PNG" * 50_000).decode()
    assert html_to_text(f'<p>Broken lid.</p><img src="data:image/png;base64,{image}">') == "Broken lid."
    monkeypatch.setattr(html_module, "MAX_HTML_CHARS", 40)
    assert html_to_text("<p>" + "word " * 100 + "</p>") == "word word word word word word word wo"


# --- quoted history and signatures -------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        # Gmail, attribution wrapped over two lines
        "New complaint text.\n\nOn Fri, Aug 14, 2026 at 6:02 AM Hemu Mall Support <support@shop.example>\n"
        "wrote:\n> Hi,\n> we are sorry.\n>> older\n",
        # Gmail, one line
        "New complaint text.\n\nOn Fri, Aug 14, 2026 at 6:02 AM Support <s@shop.example> wrote:\n> old\n",
        # Coremail (163/126/yeah.net)
        'New complaint text.\n\n\n在 2026-08-06 10:12:05,"禾木商城客服" <service@shop.example> 写道:\n'
        ">王女士您好\n>\n",
        # Gmail in Chinese
        "New complaint text.\n\nShop <s@shop.example> 于2026年8月14日周五 06:02写道：\n> 旧内容\n",
        # QQ Mail
        "New complaint text.\n\n\n------------------ 原始邮件 ------------------\n"
        '发件人: "客服"<service@shop.example>;\n发送时间: 2026年8月20日(星期四) 上午10:31\n'
        "收件人: \"张伟\"<1@qq.com>;\n主题: 回复\n\n旧的正文\n",
        # Coremail forward/reply separator
        "New complaint text.\n\n-----原始邮件-----\n发件人：客服\n旧的正文\n",
        # Outlook desktop
        "New complaint text.\n\n-----Original Message-----\nFrom: Alice <a@x>\n"
        "Sent: Sunday, September 6, 2026\nTo: Shop\nSubject: old\n\nold text\n",
        # Outlook web: underscore rule then a From/Sent block
        "New complaint text.\n\n________________________________\nFrom: Shop <s@shop.example>\n"
        "Sent: Monday, August 31, 2026 2:20 PM\nTo: Alice\nSubject: RE: x\n\nold text\n",
        # Outlook in Chinese
        "New complaint text.\n\n发件人: 禾木商城客服 <service@shop.example>\n发送时间: 2026年9月6日 14:20\n"
        "收件人: 林美玲\n主题: 回复\n\n旧的正文\n",
        # Outlook in traditional Chinese
        "New complaint text.\n\n寄件者: 禾木商城客服 <service@shop.example>\n"
        "寄件日期: 2026年9月6日 下午 02:20\n收件者: 林美玲\n主旨: 回覆\n\n舊的正文\n",
    ],
    ids=["gmail-wrapped", "gmail", "coremail", "gmail-zh", "qq", "coremail-sep", "outlook", "owa",
         "outlook-zh", "outlook-zh-hant"],
)  # fmt: skip
def test_quoted_history_is_removed(body: str) -> None:
    assert parse(mail(body)).text == "New complaint text."


def test_interleaved_quote_lines_are_dropped_but_answers_kept() -> None:
    body = "> Can you send a photo?\nYes, attached.\n> And the order number?\nHM20260803-10427\n"
    assert parse(mail(body)).text == "Yes, attached.\nHM20260803-10427"


def test_forward_without_comment_keeps_forwarded_text() -> None:
    body = (
        "---------- Forwarded message ---------\nFrom: Me <a@x>\nDate: Mon, 31 Aug 2026\n\n"
        "My original complaint.\n"
    )
    data = mail(body).replace(b"Subject: Order problem", b"Subject: Fwd: Order problem")
    assert "My original complaint." in parse(data).text


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        ("The box was empty.\n\n-- \nTom Becker\n07700 900123\n", "Tom Becker\n07700 900123"),
        ("盒子是空的。\n\n发自我的iPhone\n", "发自我的iPhone"),
        ("The box was empty.\n\nSent from my iPhone\n", "Sent from my iPhone"),
        ("盒子是空的。\n\n发自网易邮箱大师\n", "发自网易邮箱大师"),
        ("盒子是空的。\n\n從我的 iPhone 傳送\n", "從我的 iPhone 傳送"),
    ],
)
def test_signature_is_moved_to_extra(body: str, signature: str) -> None:
    msg = parse(mail(body))
    assert msg.text in {"The box was empty.", "盒子是空的。"}
    assert msg.extra["signature"] == signature


def test_signature_before_quoted_history() -> None:
    body = (
        "Still no refund.\n\n-- \nPriya\n+1 929-555-0173\n\n"
        "On Mon, Sep 8, 2026 at 9:00 AM Shop <s@x> wrote:\n> old\n"
    )
    msg = parse(mail(body))
    assert msg.text == "Still no refund."
    assert msg.extra["signature"] == "Priya\n+1 929-555-0173"


def test_whitespace_is_collapsed() -> None:
    body = "\u200bLine   one\u00a0\u00a0here  \r\n\r\n\r\n\r\n\tLine two\r\n\r\n"
    assert parse(mail(body)).text == "Line one here\n\nLine two"


# --- not-a-complaint detection -----------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        "Auto-Submitted: auto-replied",
        "Auto-Submitted: auto-generated",
        "X-Autoreply: yes",
        "X-Autorespond: vacation",
        "X-QQ-AutoReply: 1",
        "Precedence: auto_reply",
        "X-Auto-Response-Suppress: All\nX-MS-Exchange-Inbox-Rules-Loop: a@b.example",
    ],
)
def test_auto_reply_headers(headers: str) -> None:
    msg = parse(mail("I am away until Monday.", headers=headers))
    assert msg.actionable is False
    assert msg.non_actionable_reason is NonActionable.auto_reply
    assert msg.extra["non_actionable_evidence"]


@pytest.mark.parametrize(
    "subject",
    ["自动回复：关于订单", "Automatic reply: Re: order", "Auto Reply: hi", "Out of Office: back Monday",
     "Autoreply: x", "自動回覆： Re: 訂單", "[EXT] Out of office"],
)  # fmt: skip
def test_auto_reply_subjects(subject: str) -> None:
    data = mail("away").replace(
        b"Subject: Order problem", f"Subject: {Header(subject, 'utf-8').encode()}".encode()
    )
    assert parse(data).non_actionable_reason is NonActionable.auto_reply


@pytest.mark.parametrize(
    "headers",
    ["Auto-Submitted: no", "X-Autoreply: no", "X-Auto-Response-Suppress: All", "X-Mailer: Outlook"],
)
def test_ordinary_mail_stays_actionable(headers: str) -> None:
    msg = parse(mail("My parcel is lost.", headers=headers))
    assert msg.actionable is True
    assert msg.non_actionable_reason is None


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("List-Unsubscribe: <https://news.example/u/1>", NonActionable.newsletter),
        ("Precedence: bulk", NonActionable.newsletter),
        ("Precedence: list", NonActionable.newsletter),
        ("Precedence: junk", NonActionable.spam),
        ("X-Spam-Flag: YES", NonActionable.spam),
    ],
)
def test_bulk_mail(headers: str, reason: NonActionable) -> None:
    assert parse(mail("Big sale this week!", headers=headers)).non_actionable_reason is reason


def _bounce(returned_part: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.shop.example>\r\n"
        "To: service@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Fri, 11 Sep 2026 09:40:25 +0800\r\n"
        "Message-ID: <bounce-1@mx.shop.example>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="BOUND"\r\n\r\n'
        "--BOUND\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        "Your message could not be delivered.\r\n\r\n<zhou@163.con>: Host not found\r\n"
        "--BOUND\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.shop.example\r\n\r\n"
        "Final-Recipient: rfc822; zhou@163.con\r\nAction: failed\r\nStatus: 5.4.4\r\n"
        f"--BOUND\r\n{returned_part}"
        "--BOUND--\r\n"
    ).encode()


RETURNED_HEADERS = (
    "From: Shop <service@shop.example>\r\n"
    "To: zhou@163.con\r\n"
    "Subject: =?UTF-8?B?5Zue5aSN77ya6K6i5Y2VNDEzMDkyNzc0NTgyMDAxMzU5Ng==?=\r\n"
    "Message-ID: <reply-42@shop.example>\r\n"
    "In-Reply-To: <complaint-7@163.com>\r\n"
)


@pytest.mark.parametrize(
    "returned_part",
    [
        f"Content-Type: text/rfc822-headers\r\n\r\n{RETURNED_HEADERS}",
        f"Content-Type: message/rfc822\r\n\r\n{RETURNED_HEADERS}\r\nOriginal body\r\n",
    ],
    ids=["rfc822-headers", "rfc822"],
)
def test_bounce_links_to_the_returned_message(returned_part: str) -> None:
    msg = parse(_bounce(returned_part))
    assert msg.non_actionable_reason is NonActionable.bounce
    assert msg.parent_keys[0] == "email:reply-42@shop.example"
    assert msg.extra["bounced_subject"] == "回复：订单4130927745820013596"
    assert msg.extra["bounced_recipients"] == ["zhou@163.con"]
    assert msg.extra["bounced_references"] == ["complaint-7@163.com"]
    assert "could not be delivered" in msg.text
    assert msg.attachments == []
    assert msg.customer_name is None


def test_mailer_daemon_bounce_without_multipart_report() -> None:
    outer = MIMEMultipart("mixed")
    outer["From"] = "MAILER-DAEMON@mx.example.net"
    outer["Subject"] = "failure notice"
    outer["Message-ID"] = "<qmail-1@mx.example.net>"
    outer.attach(MIMEText("Sorry, I wasn't able to deliver your message.", "plain"))
    returned = EmailMessage()
    returned["Message-ID"] = "<orig-9@shop.example>"
    returned["Subject"] = "Re: refund"
    returned.set_content("body")
    from email.mime.message import MIMEMessage

    outer.attach(MIMEMessage(returned))
    msg = parse(outer.as_bytes())
    assert msg.non_actionable_reason is NonActionable.bounce
    assert "email:orig-9@shop.example" in msg.parent_keys
    assert msg.extra["bounced_subject"] == "Re: refund"


def test_postmaster_without_report_is_not_a_bounce() -> None:
    data = mail("Please whitelist our server.").replace(b"Alice@Example.com", b"postmaster@partner.example")
    assert parse(data).actionable is True


# --- attachments and broken MIME ---------------------------------------------------------


def test_attachments_metadata_only() -> None:
    outer = MIMEMultipart("mixed")
    outer["From"] = "Lin <lin@hinet.example>"
    outer["Subject"] = "photos"
    outer["Message-ID"] = "<att@x>"
    outer.attach(MIMEText("補上照片。", "plain", "big5"))
    photo = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4
    image = MIMEApplication(photo, "octet-stream")
    image.replace_header("Content-Type", "image/jpeg")
    image.add_header("Content-Disposition", "attachment", filename=Header("照片.jpg", "utf-8").encode())
    outer.attach(image)
    note = MIMEText("log line", "plain", "utf-8")
    note.add_header("Content-Disposition", "attachment", filename="log.txt")
    outer.attach(note)
    msg = parse(outer.as_bytes())
    assert msg.text == "補上照片。"
    assert [(a.filename, a.content_type, a.size) for a in msg.attachments] == [
        ("照片.jpg", "image/jpeg", len(photo)),
        ("log.txt", "text/plain", len(b"log line")),
    ]
    assert msg.attachments[0].sha256 == hashlib.sha256(photo).hexdigest()
    json.dumps(msg.model_dump(mode="json"))


def test_missing_final_boundary_and_bad_base64_padding() -> None:
    body = base64.b64encode("退款还没到账，请尽快处理。".encode()).rstrip(b"=")[:-1]
    data = mail(
        b"--B\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + body
        + b"\r\n",
        ctype='multipart/mixed; boundary="B"',
    )
    msg = parse(data)
    assert msg.text.startswith("退款还没到账，请尽快处理")


def test_multipart_without_boundary_still_gives_text() -> None:
    msg = parse(mail("The text is still here.", ctype="multipart/mixed"))
    assert "The text is still here." in msg.text


def test_large_message_parses() -> None:
    line = "我的包裹丢了，订单号 HM20260803-10427，请尽快处理。 > not a quote marker here\n"
    body = (line * 60_000).encode("utf-8")  # about 5 MB
    msg = parse(mail(base64.encodebytes(body), ctype="text/plain; charset=utf-8", cte="base64"))
    assert msg.text.startswith("我的包裹丢了")
    assert len(msg.text) > 1_000_000


# --- the dev corpus ----------------------------------------------------------------------


#: label notes that name a header-detectable non-complaint
NOT_COMPLAINT_WORDS = ("auto-reply", "bounce", "newsletter", "dsn", "out-of-office", "vacation")


def _labels() -> dict[str, dict[str, object]]:
    labels: dict[str, dict[str, object]] = {}
    for line in (CORPUS / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            label = json.loads(line)
            if label["connector"] == "email":
                labels[label["native_id"]] = label
    return labels


@pytest.mark.corpus
def test_dev_corpus_emails() -> None:
    folder = CORPUS / "email"
    if not folder.is_dir() or not (CORPUS / "labels.jsonl").is_file():
        pytest.skip(f"dev corpus not found at {CORPUS}")
    labels = _labels()
    parsed: dict[str, ComplaintMessage] = {}
    checked = 0
    for path in sorted(folder.glob("*.eml")):
        stamp = datetime.strptime(path.name.split("_", 1)[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        for raw in CONNECTOR.split_capture(
            path.read_bytes(), instance="dev", received_at=stamp, source=str(path)
        ):
            assert raw.native_id in labels, f"{path.name}: {raw.native_id} has no label"
            parsed[raw.native_id] = CONNECTOR.parse(raw)
    assert set(parsed) == set(labels)
    for native_id, label in labels.items():
        msg = parsed[native_id]
        json.dumps(msg.extra)
        if label["actionable"]:
            assert msg.text.strip(), f"{native_id}: empty text"
            assert msg.actionable, f"{native_id}: wrongly marked {msg.non_actionable_reason}"
        note = str(label["note"]).lower()
        if label["group"] is None and any(word in note for word in NOT_COMPLAINT_WORDS):
            checked += 1
            assert not msg.actionable, f"{native_id}: {label['note']}"
    assert checked >= 1
