"""Noise: spam, praise, robocalls and empty texts open no case; complaints stay actionable."""

from __future__ import annotations

import pytest

from hub.models import Attachment, Channel, NonActionable
from hub.understand.noise import judge_message


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("本公司常年代开各地增值税发票，点数优惠，可验证后付款，联系电话 139 0000 1111", Channel.email),
        ("在家兼职日结500，动动手指就能赚钱，详情加V：abc123", Channel.x),
        ("誠信合作，代開各類正規發票，長期有效，敬請諒解", Channel.email),
        ("Earn $800 a day working from home! DM me for details 🚀", Channel.mastodon),
        ("Free crypto airdrop, click the link to claim your bitcoin", Channel.x),
        ("https://bit.ly/3xYzAbc", Channel.x),
    ],
)
def test_spam(text: str, channel: Channel, msg_factory) -> None:
    msg = judge_message(msg_factory(text, channel=channel))
    assert msg.non_actionable_reason == NonActionable.spam


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("昨天下单今天就到了，包装很用心，给你们点赞！", Channel.mastodon),
        ("謝謝你們，客服很貼心，五星好評 👍", Channel.mastodon),
        ("多謝晒，件衫好靚，下次再幫襯", Channel.x),
        ("Thanks @shop, great service and super fast shipping ❤️", Channel.x),
        ("Just wanted to say thank you, the teapot is perfect.", Channel.email),
    ],
)
def test_praise(text: str, channel: Channel, msg_factory) -> None:
    msg = judge_message(msg_factory(text, channel=channel))
    assert msg.non_actionable_reason == NonActionable.praise


@pytest.mark.parametrize(
    "text",
    [
        "您好 这里是银行信用卡中心 您的额度可以提升至八万元 如需办理请按一 退订请按九",
        "恭喜您中奖了 请按一了解详情",
        "Hello, this is an important message about your vehicle's extended warranty. Press 1 to speak "
        "to a specialist.",
        "This is not a sales call. You have been selected for a lower interest rate on your student loan, "
        "press one now.",
    ],
)
def test_robocall(text: str, msg_factory) -> None:
    msg = judge_message(msg_factory(text, channel=Channel.voicemail))
    assert msg.non_actionable_reason == NonActionable.robocall


@pytest.mark.parametrize("text", ["", "   ", "@shophq", "…… ！！"])
def test_empty(text: str, msg_factory) -> None:
    msg = judge_message(msg_factory(text, channel=Channel.x))
    assert msg.non_actionable_reason == NonActionable.empty


def test_attachment_only_mail_is_not_empty(msg_factory) -> None:
    photo = Attachment(filename="a.jpg", content_type="image/jpeg", size=10, sha256="0" * 64)
    msg = judge_message(msg_factory("", attachments=[photo]))
    assert msg.actionable


@pytest.mark.parametrize(
    ("text", "channel"),
    [
        ("谢谢你们的回复，但是退款还是没有到账", Channel.email),
        ("謝謝，不過我收到的杯子是破的", Channel.mastodon),
        ("Thanks for the quick reply, but the replacement is broken too.", Channel.x),
        ("我要开增值税专用发票，订单完成两周了还没开", Channel.email),
        ("我用信用卡付款的，麻烦办理退款", Channel.voicemail),
        (
            "Hi, I bought the extended warranty with my blender and it broke, please call me",
            Channel.voicemail,
        ),
        ("Stop sending me spam texts, I unsubscribed twice.", Channel.x),
    ],
)
def test_complaints_stay_actionable(text: str, channel: Channel, msg_factory) -> None:
    msg = judge_message(msg_factory(text, channel=channel))
    assert msg.actionable, msg.non_actionable_reason


def test_connector_decision_is_kept(msg_factory) -> None:
    msg = msg_factory("谢谢！")
    msg.mark_not_actionable(NonActionable.auto_reply)
    judge_message(msg)
    assert msg.non_actionable_reason == NonActionable.auto_reply


def test_courier_not_judged(msg_factory) -> None:
    msg = judge_message(msg_factory("", channel=Channel.courier))
    assert msg.actionable


def test_message_with_an_order_number_is_not_spam(msg_factory) -> None:
    msg = msg_factory("代开发票吗？我的订单需要发票", order_nos=["HM20261014-55210"])
    assert judge_message(msg).actionable
