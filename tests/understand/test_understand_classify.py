"""Category and severity from mappings/taxonomy.yaml, in zh-Hans, zh-Hant and en."""

from __future__ import annotations

import pytest

from hub.models import Category, Channel, NonActionable, Severity
from hub.understand import UnderstandSettings
from hub.understand.classify import classify, classify_message, severity_reasons
from hub.understand.taxonomy import TextView, load_taxonomy


@pytest.fixture(scope="module")
def taxonomy():
    return load_taxonomy(UnderstandSettings().taxonomy_file())


def category_of(text: str, taxonomy, channel: Channel = Channel.email) -> Category:
    return classify(TextView.of(text), taxonomy, channel.value)


CATEGORY_CASES = [
    # product quality
    ("新买的电饭煲内胆涂层一洗就掉，质量太差了，要求换新", Category.product_quality),
    ("吹風機用了兩次就壞掉了，開關按了沒反應，請問怎麼保修？", Category.product_quality),
    ("部機開唔到，屏幕仲有條裂痕，想換過部新嘅", Category.product_quality),
    (
        "The kettle lid is cracked and the handle fell off after a week. Poor quality.",
        Category.product_quality,
    ),
    ("You sent the wrong size and the seams are already splitting.", Category.product_quality),
    # logistics
    ("下单五天了还没发货，物流信息一直没更新", Category.logistics),
    ("包裹顯示已簽收，但我根本沒收到，管理室也說沒有", Category.logistics),
    ("我張單一個禮拜都未寄出，幾時先發貨？", Category.logistics),
    ("My parcel has been stuck in transit for ten days, tracking hasn't moved.", Category.logistics),
    ("Marked as delivered yesterday but it never arrived. Where is my package?", Category.logistics),
    # payment / refund
    ("退货已经寄回一周了，退款还没到账", Category.payment_refund),
    ("取消訂單後款項一直沒有退回我的信用卡", Category.payment_refund),
    ("我俾咗錢兩次，仲未退返畀我", Category.payment_refund),
    ("I returned the boots three weeks ago and still no refund on my card.", Category.payment_refund),
    ("You charged my debit card but the order shows unpaid.", Category.payment_refund),
    # customer service
    ("客服态度太差，问了三遍都答非所问，最后直接不理人", Category.customer_service),
    ("線上客服一直是機器人在兜圈，轉人工也沒用，找不到真人", Category.customer_service),
    ("你哋啲客服態度好差，講兩句就閂咗個對話", Category.customer_service),
    ("The agent on live chat was rude and hung up on me twice.", Category.customer_service),
    (
        "Your support rep promised a call back and nobody called. Terrible attitude.",
        Category.customer_service,
    ),
    # promotion
    ("说好的满200减30优惠券结算时用不了", Category.promotion),
    ("週年慶說有贈品，結果收到貨沒有贈品", Category.promotion),
    ("你哋話有折扣碼，點知用唔到，要俾原價", Category.promotion),
    ("The promo code FALL15 wouldn't apply at checkout so I paid full price.", Category.promotion),
    ("Price dropped two days after I bought it, can I get a price adjustment?", Category.promotion),
    # other
    ("公司报销需要增值税专用发票，订单完成一个月了还没开票", Category.other),
    ("會員積分無故被清零，也沒有任何通知", Category.other),
    ("Please unsubscribe me and delete my personal data, I keep getting marketing texts.", Category.other),
    ("I can't log in, password reset emails never come.", Category.other),
]


@pytest.mark.parametrize(("text", "expected"), CATEGORY_CASES)
def test_category(text: str, expected: Category, taxonomy) -> None:
    assert category_of(text, taxonomy) == expected


def test_no_keyword_is_other_and_courier_is_logistics(taxonomy) -> None:
    assert category_of("你好", taxonomy) == Category.other
    assert category_of("hello there", taxonomy) == Category.other
    assert category_of("Delivered, front porch", taxonomy, Channel.courier) == Category.logistics
    assert category_of("退款", taxonomy, Channel.courier) == Category.logistics


def test_follow_up_words_do_not_outvote_the_subject(taxonomy) -> None:
    text = "这是我第二次来问了，一直没人回复，也没人回电话。充电器插上就冒火花，外壳都烧焦了。"
    assert category_of(text, taxonomy) == Category.product_quality


SEVERE_CASES = [
    # safety / health
    ("插上电源后底座冒烟，还闻到烧焦味", "safety"),
    ("孩子吃了你們的餅乾後全身過敏起疹子，送急診", "safety"),
    ("個暖爐用咗一陣就起火，差啲燒到張梳化", "safety"),
    ("My son got an electric shock from the charger.", "safety"),
    ("Found a piece of glass in the cereal — foreign object, my kid nearly swallowed it.", "safety"),
    ("The power bank battery is swollen and bulging.", "safety"),
    # legal / regulators
    ("再不处理我就打12315投诉，并找律师起诉你们", "legal"),
    ("若再不回覆，我會向消保官申訴", "legal"),
    ("我會去消委會投訴你哋", "legal"),
    ("If this isn't resolved I will file in small claims court and contact my attorney.", "legal"),
    ("I'm reporting you to the BBB and the FTC.", "legal"),
    # media
    ("我要把这件事发到微博和抖音上曝光", "media"),
    ("再不處理我就找記者爆料", "media"),
    ("I'm going to the local news with this, and posting it on TikTok.", "media"),
    # money lost / charged twice
    ("同一笔订单被重复扣款，扣了两次钱", "money"),
    ("信用卡被多扣了一筆", "money"),
    ("I was double charged for the same order.", "money"),
    ("You charged me twice for one order.", "money"),
    # repeated contact
    ("这已经是我第三次联系你们了", "repeat"),
    ("我已經打了好幾次電話都沒有人接", "repeat"),
    ("我打咗三次電話，第四次都係冇人聽", "repeat"),
    ("This is the third time I'm writing about this.", "repeat"),
    ("I have emailed you four times and called several times.", "repeat"),
    ("有没有人管？三次打电话都说会回电，结果一个都没有", "repeat"),
    ("我打了四次電話都沒人接", "repeat"),
    ("Our toddler threw up after eating the puree.", "safety"),
]


@pytest.mark.parametrize(("text", "rule"), SEVERE_CASES)
def test_severe(text: str, rule: str, taxonomy) -> None:
    reasons = severity_reasons(TextView.of(text), taxonomy)
    assert any(r.startswith(rule + ":") for r in reasons), reasons


GENERAL_CASES = [
    "快递慢了两天，希望下次快一点",
    "衣服顏色跟圖片有點不一樣，想換貨",
    "The jacket runs a bit small, can I exchange it for a large?",
    "Where is my order? It's been a week.",
    "There is no safety issue, the lid is just loose.",
    "这个不是安全问题，就是外观有划痕",
    "I washed it three times and the colour faded.",
    "商品详情写着不含甲醛",
    "没有任何过敏反应，只是尺寸不合适",
    "I emailed once yesterday, still waiting.",
]


@pytest.mark.parametrize("text", GENERAL_CASES)
def test_general(text: str, taxonomy) -> None:
    assert severity_reasons(TextView.of(text), taxonomy) == []


def test_classify_message_sets_fields(msg_factory) -> None:
    msg = msg_factory("第三次找你们了，退款还没到，再不退我就去12315", subject="退款")
    classify_message(msg)
    assert msg.category == Category.payment_refund
    assert msg.severity == Severity.severe
    assert "repeat:第三次" in msg.severity_reasons
    assert "legal:12315" in msg.severity_reasons


def test_classify_message_general_and_idempotent(msg_factory) -> None:
    msg = msg_factory("包裹还没到，麻烦查一下")
    classify_message(msg)
    classify_message(msg)
    assert (msg.category, msg.severity, msg.severity_reasons) == (Category.logistics, Severity.general, [])


def test_non_actionable_messages_are_left_alone(msg_factory) -> None:
    msg = msg_factory("律师函")
    msg.mark_not_actionable(NonActionable.spam)
    classify_message(msg)
    assert msg.category is None and msg.severity is None


def test_courier_events_are_logistics_and_never_severe_from_scan_text(msg_factory) -> None:
    msg = msg_factory("第三次派送失败，收件人电话无法接通", channel=Channel.courier)
    msg.mark_not_actionable(NonActionable.routine_scan)
    classify_message(msg)
    assert msg.category == Category.logistics
    assert msg.severity == Severity.general


def test_english_inflections_and_apostrophes(taxonomy) -> None:
    assert (
        category_of("They keep charging my card for a cancelled order", taxonomy) == Category.payment_refund
    )
    assert category_of("It doesn’t work and it doesnt turn on", taxonomy) == Category.product_quality
    assert category_of("Nothing has shipped yet, still no tracking", taxonomy) == Category.logistics


def test_specific_noun_beats_generic_state(taxonomy) -> None:
    assert category_of("领的优惠券过期了也没提醒，能补发吗", taxonomy) == Category.promotion
    assert category_of("奶粉收到就过期了，还发霉", taxonomy) == Category.product_quality


def test_zh_hant_matches_simplified_lexicon(taxonomy) -> None:
    assert category_of("退貨退款到現在還沒到帳", taxonomy) == Category.payment_refund
