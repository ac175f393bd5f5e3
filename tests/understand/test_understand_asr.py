"""Voicemail transcripts: spoken digits become codes, quantities stay words."""

from __future__ import annotations

import pytest

from hub.models import Channel
from hub.understand.asr import normalise_message, normalise_transcript


@pytest.mark.parametrize(
    ("spoken", "expected"),
    [
        ("我的手机是幺五九 二二六七 三零八一 谢谢", "我的手机是15922673081 谢谢"),
        ("订单编号是J K二零二五一一零七杠零零三八六 麻烦查下", "订单编号是JK20251107-00386 麻烦查下"),
        ("单号S F三幺四五六七八九零幺二三四五", "单号SF31456789012345"),
        ("運單號碼係七五二零 八八一三 四零九九 六二", "運單號碼係75208813409962"),
        ("会员卡〇〇七七", "会员卡0077"),
    ],
)
def test_chinese_digit_runs(spoken: str, expected: str) -> None:
    assert normalise_transcript(spoken) == expected


@pytest.mark.parametrize(
    "phrase",
    [
        "客服说二十四小时之内回复",
        "等了两天还没发货",
        "我打了三次电话",
        "买了一个烧水壶",
        "一共两千三百九十九块",
        "十月十五号下的单",
        "三三两两的人在排队",
        "四十八小时",
    ],
)
def test_chinese_quantities_stay(phrase: str) -> None:
    assert normalise_transcript(phrase) == phrase


@pytest.mark.parametrize(
    ("spoken", "expected"),
    [
        ("my order is w three one oh five two two four thanks", "my order is W3105224 thanks"),
        ("call me on oh two oh seven nine four six double one three two", "call me on 02079461132"),
        ("the number is triple five two one eight nine", "the number is 5552189"),
        ("reference k l four four dash seven seven one two please", "reference KL44-7712 please"),
        ("only nine nine nine here", "only nine nine nine here"),
        ("tracking R R one two three four five six seven eight nine C N ok", "tracking RR123456789CN ok"),
        ("it is j d v one two three four five six seven eight nine zero one two", "it is JDV123456789012"),
    ],
)
def test_english_digit_runs(spoken: str, expected: str) -> None:
    assert normalise_transcript(spoken).replace("  ", " ") == expected


@pytest.mark.parametrize(
    "phrase",
    [
        "i waited one week for two parcels",
        "oh and one more thing",
        "it cost sixty four dollars and fifty cents",
        "twenty four hours later nothing",
        "I tried two or three times",
    ],
)
def test_english_quantities_stay(phrase: str) -> None:
    assert normalise_transcript(phrase) == phrase


def test_only_voicemail_is_normalised(msg_factory) -> None:
    email = msg_factory("订单幺二三四五六七", channel=Channel.email)
    assert normalise_message(email).text == "订单幺二三四五六七"
    assert "transcript_raw" not in email.extra


def test_raw_transcript_kept_and_rerun_is_stable(msg_factory) -> None:
    raw = "我电话幺八六 零零幺二 三四五六 订单H M二零二六幺零零二 杠 三三四五六"
    msg = msg_factory(raw, channel=Channel.voicemail)
    normalise_message(msg)
    assert msg.extra["transcript_raw"] == raw
    assert msg.text == "我电话18600123456 订单HM20261002-33456"
    normalise_message(msg)
    assert msg.text == "我电话18600123456 订单HM20261002-33456"


def test_empty_and_odd_text() -> None:
    assert normalise_transcript("") == ""
    assert normalise_transcript("   ") == "   "
    assert normalise_transcript("杠杠 dash - 一") == "杠杠 dash - 一"
