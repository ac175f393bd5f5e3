"""Language: Simplified, Traditional (incl. Cantonese), English, mixed."""

from __future__ import annotations

import pytest

from hub.understand.lang import detect_language, set_language


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("快递三天没有更新了，麻烦帮我查一下订单 HM20261014-55210", "zh-Hans"),
        ("我收到的杯子有裂缝，能换一个吗？", "zh-Hans"),
        ("請問我的包裹為什麼還在物流中心？已經等了一個禮拜。", "zh-Hant"),
        ("這個吹風機用了兩次就壞掉了，請協助處理退貨。", "zh-Hant"),
        ("我部機今日先到，點知開唔到機，你哋快啲覆我", "zh-Hant"),
        ("佢哋話冇貨，咁我嘅錢幾時退返畀我", "zh-Hant"),
        ("The blender arrived with a cracked jar, order W3319402.", "en"),
        ("where is my parcel?? 2 weeks already @ShopHQ #fail", "en"),
        ("这个 refund 到底 when 能到 my account，already 等了 two weeks", "mixed"),
    ],
)
def test_detect(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_cantonese_in_simplified_characters_counts_as_traditional() -> None:
    assert detect_language("我嘅订单点解仲未发货，你哋冇人覆我") == "zh-Hant"


def test_codes_handles_and_links_do_not_count() -> None:
    assert detect_language("@shop 订单 W3319402 https://example.com/track?id=abc 还没到") == "zh-Hans"


def test_nothing_to_read() -> None:
    assert detect_language("") is None
    assert detect_language("12345 !!! 😀") is None


def test_set_language_keeps_existing_when_unreadable(msg_factory) -> None:
    msg = msg_factory("👍👍", language="zh")
    assert set_language(msg).language == "zh"
    msg = msg_factory("包裹丢了", subject="Re: order")
    assert set_language(msg).language == "zh-Hans"
