"""The demo's stream of complaints: written for the demo (fictional shop, people and numbers), zh and en.

Brightleaf Home (青叶家居, ``support@brightleaf.example``, ``@brightleaf@social.example``,
X ``@BrightleafHome``) hears from its customers by e-mail, Mastodon, X and voicemail, and
from its couriers (AfterShip, Kuaidi100). The stream is arranged so that a newcomer sees
every kind of merge: a voicemail joining an e-mail case by its order number, an e-mail
reply joining by its thread, a toot joining a courier's failed-delivery case by tracking
number, a customer writing again from another channel, and noise (a routine scan, a
thank-you) that opens no case.

Each :class:`DemoItem` becomes a capture in its channel's native shape
(:func:`capture`), stamped with the moment it is fed. Every name, address, phone number,
order and tracking number here is made up.
"""

from __future__ import annotations

import html
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

__all__ = ["SHOP_ADDRESS", "STREAM", "DemoItem", "capture"]

SHOP_ADDRESS = "support@brightleaf.example"
SHOP_NAME = "Brightleaf Home 青叶家居"
X_SHOP_ID = "1500000000000000001"


@dataclass(frozen=True)
class DemoItem:
    """One complaint (or courier event) of the stream."""

    key: str  # unique in the stream; replies name the key they answer
    channel: str  # email | mastodon | x | twilio | aftership | kuaidi100
    text: str
    who: str = ""  # display name
    address: str = ""  # e-mail address, handle (user@host / x handle) or phone number
    subject: str = ""
    lang: str = "en"
    reply_to: str | None = None  # key of an earlier item of the same thread
    #: courier events: tracking number, carrier, order, status and the scan text
    tracking: str = ""
    carrier: str = ""
    order: str = ""
    tag: str = ""
    extra: dict[str, str] = field(default_factory=dict)


STREAM: list[DemoItem] = [
    DemoItem(
        "robot",
        "email",
        "你好，\n\n我10月1日买的扫地机器人（订单号 QY20261001-3391）回充座一直充不上电，"
        "指示灯红色闪烁，已经按说明书重置过两次了，还是不行。麻烦尽快安排换货或者上门检修。\n\n陈思远\n",
        who="陈思远",
        address="siyuan.chen@mail.example",
        subject="扫地机器人充不上电 订单QY20261001-3391",
        lang="zh",
    ),
    DemoItem(
        "lid",
        "mastodon",
        "@brightleaf my order QY20261002-4410 arrived today and the glass lid of the casserole is shattered. "
        "Photos attached. I'd like a replacement, not a refund.",
        who="Marco Bellini",
        address="marcob@social.example",
    ),
    DemoItem(
        "robot-voice",
        "twilio",
        "喂 你好 我是陈思远 订单号 QY20261001-3391 扫地机器人 发了邮件两天了还没人回 机器还是充不上电 麻烦给我回个电话",
        lang="zh",
        address="+8613955502718",
    ),
    DemoItem(
        "double",
        "x",
        "@BrightleafHome you charged my card twice for order QY20261003-5521 ($129.00 x2). "
        "Please refund the duplicate.",
        who="Jess Kowalski",
        address="jess_kow",
        extra={"user_id": "1500000000000004242"},
    ),
    DemoItem(
        "sf-fail",
        "aftership",
        "派送失败：收件人电话无人接听，快件已退回网点",
        tracking="SF1450012345678",
        carrier="sf-express",
        order="QY20261004-6632",
        tag="AttemptFail",
        lang="zh",
        who="王磊",
    ),
    DemoItem(
        "lid-reply",
        "email",
        "Hi,\n\nFollowing up on my toot about order QY20261002-4410: the replacement casserole has not "
        "shipped yet and nobody has answered. Could you give me a date?\n\nThanks,\nMarco\n",
        who="Marco Bellini",
        address="marco.bellini@mail.example",
        subject="Broken casserole lid, order QY20261002-4410",
    ),
    DemoItem(
        "zto-return",
        "kuaidi100",
        "【杭州市】快件已退回，退回原因：收件人拒收",
        tracking="75300123456789",
        carrier="zhongtong",
        tag="6",
        lang="zh",
    ),
    DemoItem(
        "zto-toot",
        "mastodon",
        "@brightleaf 中通快递单号 75300123456789 显示被拒收退回了？？我一直在家根本没人来送！台灯我还急着用。",
        who="刘晓雯",
        address="xiaowen@social.example",
        lang="zh",
    ),
    DemoItem(
        "coupon",
        "email",
        "您好：\n\n我下单时用了满300减50的优惠券（订单 QY20261005-7710），结算页面显示已抵扣，"
        "但实际扣款还是按原价。请核实后退还差价50元。\n\n谢谢\n黄嘉欣\n",
        who="黄嘉欣",
        address="jiaxin.huang@mail.example",
        subject="优惠券没有抵扣",
        lang="zh",
    ),
    DemoItem(
        "heater",
        "email",
        "Hello,\n\nThe oil heater from order QY20261006-8823 started smoking and smelled of burning plastic "
        "within ten minutes of switching it on. We unplugged it immediately. This is a fire hazard - "
        "please arrange a pickup and a full refund.\n\nAisha Rahman\n",
        who="Aisha Rahman",
        address="aisha.rahman@mail.example",
        subject="Heater smoking - safety issue",
    ),
    DemoItem(
        "double-voice",
        "twilio",
        "hi this is jess kowalski calling about order q y two zero two six one zero zero three dash "
        "five five two one i was charged twice and nobody replied on twitter please call me back",
        address="+14155550142",
    ),
    DemoItem(
        "routine-scan",
        "aftership",
        "Shipment picked up by courier",
        tracking="YT7300012345678",
        carrier="yto",
        order="QY20261007-9034",
        tag="InTransit",
        who="Tom Baker",
    ),
    DemoItem(
        "heater-reply",
        "email",
        "Hi again,\n\nIt has been a day. Is anyone looking at this? The heater is still sitting in our "
        "hallway and I don't want to plug it in again.\n\nAisha\n",
        who="Aisha Rahman",
        address="aisha.rahman@mail.example",
        subject="Re: Heater smoking - safety issue",
        reply_to="heater",
    ),
    DemoItem(
        "coupon-x",
        "x",
        "@BrightleafHome 订单 QY20261005-7710 优惠券没抵扣，发邮件三天了客服也没回，能不能有人管一下？",
        who="黄嘉欣",
        address="jiaxin_h",
        lang="zh",
        extra={"user_id": "1500000000000007788"},
    ),
    DemoItem(
        "thanks",
        "mastodon",
        "@brightleaf just wanted to say the new desk lamp is lovely, thanks for the quick delivery!",
        who="Priya N",
        address="priyan@social.example",
    ),
    DemoItem(
        "sofa",
        "email",
        "客服你好，\n\n上周收到的布艺沙发（订单号 QY20261008-1207）坐垫有一道很明显的开线，"
        "而且颜色和页面上的浅灰色差很多。请问怎么退换？\n\n周宁\n",
        who="周宁",
        address="ning.zhou@mail.example",
        subject="沙发开线、色差 QY20261008-1207",
        lang="zh",
    ),
    DemoItem(
        "kettle",
        "x",
        "@BrightleafHome the kettle from order QY20261009-2288 leaks from the base after a week. "
        "Not impressed.",
        who="Dan Okoro",
        address="dan_okoro",
        extra={"user_id": "1500000000000009911"},
    ),
    DemoItem(
        "sofa-reply",
        "email",
        "补充一下：开线的位置在左侧扶手下方，照片已附上。希望能换一套新的坐垫。\n\n周宁\n",
        who="周宁",
        address="ning.zhou@mail.example",
        subject="Re: 沙发开线、色差 QY20261008-1207",
        lang="zh",
        reply_to="sofa",
    ),
]


def _message_id(item: DemoItem, run: str) -> str:
    return f"<demo-{item.key}-{run}@mail.example>"


def _email(item: DemoItem, now: datetime, run: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = formataddr((item.who, item.address))
    msg["To"] = formataddr((SHOP_NAME, SHOP_ADDRESS))
    msg["Subject"] = item.subject
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = _message_id(item, run)
    if item.reply_to:
        parent = next(i for i in STREAM if i.key == item.reply_to)
        msg["In-Reply-To"] = _message_id(parent, run)
        msg["References"] = _message_id(parent, run)
    msg.set_content(item.text, charset="utf-8")
    return msg.as_bytes(policy=SMTP)


def _iso(now: datetime) -> str:
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def _snowflake(now: datetime, seq: int) -> str:
    return str((int(now.timestamp() * 1000) << 16) + seq)


def _html(text: str) -> str:
    link = '<a href="https://social.example/@brightleaf" class="u-url mention">@brightleaf</a>'
    return "<p>" + html.escape(text).replace("@brightleaf", link) + "</p>"


def _mastodon(item: DemoItem, now: datetime, seq: int) -> bytes:
    user, host = item.address.split("@", 1)
    account = {
        "id": str(int(uuid.uuid5(uuid.NAMESPACE_URL, item.address).hex[:14], 16)),
        "username": user,
        "acct": item.address,
        "display_name": item.who,
        "url": f"https://{host}/@{user}",
    }
    status_id = _snowflake(now, seq)
    notification = {
        "id": str(40_000_000 + seq),
        "type": "mention",
        "created_at": _iso(now),
        "account": account,
        "status": {
            "id": status_id,
            "created_at": _iso(now),
            "in_reply_to_id": None,
            "visibility": "public",
            "language": "zh" if item.lang == "zh" else "en",
            "uri": f"https://{host}/users/{user}/statuses/{status_id}",
            "url": f"https://{host}/@{user}/{status_id}",
            "content": _html(item.text),
            "spoiler_text": "",
            "account": account,
            "media_attachments": [],
        },
    }
    return json.dumps(notification, ensure_ascii=False).encode()


def _x(item: DemoItem, now: datetime, seq: int) -> bytes:
    tweet_id = _snowflake(now, seq)
    user_id = item.extra.get("user_id", "1500000000000000099")
    page = {
        "data": [
            {
                "id": tweet_id,
                "text": item.text,
                "author_id": user_id,
                "created_at": _iso(now),
                "conversation_id": tweet_id,
                "lang": "zh" if item.lang == "zh" else "en",
                "edit_history_tweet_ids": [tweet_id],
            }
        ],
        "includes": {"users": [{"id": user_id, "name": item.who, "username": item.address}]},
        "meta": {"result_count": 1, "newest_id": tweet_id, "oldest_id": tweet_id},
    }
    return json.dumps(page, ensure_ascii=False).encode()


def _twilio(item: DemoItem, now: datetime, seq: int) -> bytes:
    digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{item.key}/{now.isoformat()}/{seq}").hex
    account = "AC" + "d" * 32
    recording = "RE" + digest
    base = f"https://api.twilio.com/2010-04-01/Accounts/{account}/Recordings/{recording}"
    form = {
        "AccountSid": account,
        "CallSid": "CA" + digest[::-1],
        "RecordingSid": recording,
        "RecordingUrl": base,
        "TranscriptionSid": "TR" + digest,
        "TranscriptionText": item.text,
        "TranscriptionStatus": "completed",
        "TranscriptionType": "fast",
        "TranscriptionUrl": f"{base}/Transcriptions/TR{digest}",
        "From": item.address,
        "To": "+14155550100",
        "CallStatus": "completed",
        "ApiVersion": "2010-04-01",
    }
    return json.dumps(form, ensure_ascii=False).encode()


def _aftership(item: DemoItem, now: datetime, seq: int) -> bytes:
    picked = now - timedelta(days=2)
    checkpoints = [
        {
            "slug": item.carrier,
            "created_at": picked.isoformat(),
            "checkpoint_time": picked.isoformat(),
            "location": "浙江省杭州市",
            "message": "快件已揽收",
            "tag": "InTransit",
            "subtag": "InTransit_002",
            "subtag_message": "Acceptance scan",
        },
        {
            "slug": item.carrier,
            "created_at": now.isoformat(),
            "checkpoint_time": now.isoformat(),
            "location": "上海市",
            "message": item.text,
            "tag": item.tag,
            "subtag": f"{item.tag}_001",
            "subtag_message": item.text,
        },
    ]
    body = {
        "event": "tracking_update",
        "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"aftership/{item.key}/{now.isoformat()}/{seq}")),
        "is_tracking_first_tag": True,
        "msg": {
            "id": uuid.uuid5(uuid.NAMESPACE_URL, item.tracking).hex[:24],
            "tracking_number": item.tracking,
            "slug": item.carrier,
            "title": item.order,
            "order_id": item.order,
            "customer_name": item.who,
            "emails": [],
            "smses": [],
            "tag": item.tag,
            "subtag": f"{item.tag}_001",
            "subtag_message": item.text,
            "created_at": picked.isoformat(),
            "updated_at": now.isoformat(),
            "checkpoints": checkpoints,
        },
    }
    return json.dumps(body, ensure_ascii=False).encode()


def _kuaidi100(item: DemoItem, now: datetime, seq: int) -> bytes:
    def stamp(when: datetime) -> str:
        return when.strftime("%Y-%m-%d %H:%M:%S")

    earlier = now - timedelta(days=1)
    push = {
        "status": "polling",
        "billstatus": "got",
        "message": "",
        "lastResult": {
            "message": "ok",
            "nu": item.tracking,
            "ischeck": "0",
            "com": item.carrier,
            "status": "200",
            "state": item.tag,
            "data": [
                {"context": item.text, "time": stamp(now), "ftime": stamp(now)},
                {"context": "【杭州市】快件已揽收", "time": stamp(earlier), "ftime": stamp(earlier)},
            ],
        },
    }
    return json.dumps(push, ensure_ascii=False).encode()


def capture(item: DemoItem, now: datetime, *, seq: int, run: str) -> bytes:
    """``item`` as its channel delivers it (an RFC 5322 message, a JSON notification, page or callback)."""
    if item.channel == "email":
        return _email(item, now, run)
    builders = {
        "mastodon": _mastodon,
        "x": _x,
        "twilio": _twilio,
        "aftership": _aftership,
        "kuaidi100": _kuaidi100,
    }
    return builders[item.channel](item, now, seq)
