"""Order and tracking numbers: shapes found, decoys rejected, canonical forms."""

from __future__ import annotations

import pytest

from hub.models import Channel
from hub.understand import UnderstandSettings
from hub.understand.extract import extract_message, extract_numbers


def orders(text: str) -> list[str]:
    return extract_numbers(text).order_nos


def trackings(text: str) -> list[str]:
    return extract_numbers(text).tracking_nos


# --- shapes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我的订单 HM20261014-55210 还没发", "HM20261014-55210"),
        ("訂單hm20261101-00917一直沒有出貨", "HM20261101-00917"),
        ("order no. HM 20261203 - 44001 please", "HM20261203-44001"),
        ("单号HM2026120344001", "HM20261203-44001"),
        ("京东那边的订单JD20261120-10086有问题", "JD20261120-10086"),
        ("Where is W3319402?", "W3319402"),
        ("see #W3319402 again", "W3319402"),
        ("order w3319402 is late", "W3319402"),
        ("天猫订单号：3301982274650019283，麻烦看一下", "3301982274650019283"),
        ("淘寶 3301982274650019283 這張", "3301982274650019283"),
    ],
)
def test_order_shapes(text: str, expected: str) -> None:
    assert orders(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("顺丰单号SF2099384756102一直不动", "SF2099384756102"),
        ("SF 2099 3847 56102 這個", "SF2099384756102"),
        ("圆通 YT8812093344512 被退回", "YT8812093344512"),
        ("YunExpress YT2610099912345678 expired", "YT2610099912345678"),
        ("京东 JDV019283746501 签收了但没收到", "JDV019283746501"),
        ("UPS 1Z 4F7 3X9 03 1234 5678 says delivered", "1Z4F73X90312345678"),
        ("Taiwan Post rr123456785cn stuck", "RR123456785CN"),
        ("USPS 9261 2901 2345 6789 0123 45 no movement", "9261290123456789012345"),
        ("usps 9405511899561234567890 lost", "9405511899561234567890"),
        ("中通75311223344556到哪了", "75311223344556"),
        ("快递单号：4300 9988 1122 3", "4300998811223"),
        ("EMS 1101234567890 没更新", "1101234567890"),
        ("DHL waybill 4829103756 delayed", "4829103756"),
        ("tracking number: 771234567890 (FedEx)", "771234567890"),
    ],
)
def test_tracking_shapes(text: str, expected: str) -> None:
    assert trackings(text) == [expected]


def test_bare_zto_shape_without_context() -> None:
    assert trackings("包裹 76123456789012 三天没动") == ["76123456789012"]


def test_unknown_order_shape_after_label() -> None:
    assert orders("订单号：88123456，一直没消息") == ["88123456"]
    assert orders("Order #AB12345678 never came") == ["AB12345678"]


def test_unknown_tracking_shape_after_label() -> None:
    assert trackings("运单号 ZX202611180001 显示异常") == ["ZX202611180001"]


# --- decoys ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "实付¥3,299.00，退款还没到",
        "I paid $1,249.99 and got nothing",
        "金額 NT$12,380 已扣款",
        "價錢 HK$1,680",
        "下单时间 2026-10-14 20:31:05",
        "on 10/14/2026 I ordered",
        "20261014 我下的单",
        "手机 139 0211 3344，请回电",
        "电话：+86 137-0011-2233",
        "call me at (415) 555-0132 or +1 415 555 0132",
        "座机 021-6688 1234",
        "QQ：2837465019 加我",
        "邮编 310012 杭州",
        "ZIP 94107",
        "工单号 CS-2610-00917",
        "chat id LC-1014-55210",
        "已向12315投诉，受理编号 1231520261014100238",
        "投诉编号：1231520261014100238",
        "微信支付交易单号 4200003321202610141122334455",
        "商户单号：1300992211202610140000123456",
        "税号 91310115MA1K4Q7B2X",
        "开户行及账号：建设银行 6217 0011 2233 4455 667",
        "卡号尾号 8831",
        "会员号 66120077 积分没了",
        "售后申请编号 AS2610140021 还在审核",
        "申请号：RS20261014-0032",
        "ticket #4823019955 still open",
        "my bank account 001234567890",
        "20000mAh 的充电宝",
    ],
)
def test_decoys_are_not_numbers(text: str) -> None:
    found = extract_numbers(text)
    assert found.order_nos == [] and found.tracking_nos == [], (text, found)


def test_email_addresses_and_urls_are_not_numbers() -> None:
    text = "联系我 2837465019@qq.com 或看 https://example.com/t/9400111899223847561203"
    assert extract_numbers(text).tracking_nos == []


def test_twelve315_case_number_next_to_real_order() -> None:
    text = "订单 3301982274650019283 已投诉12315（受理编号 1231520261014100238）"
    assert orders(text) == ["3301982274650019283"]


def test_wechat_transaction_ids_listed_under_label() -> None:
    text = "两笔交易单号：\n4200003321202610141122334455\n4200003321202610141122339876\n订单HM20261014-00001"
    found = extract_numbers(text)
    assert found.order_nos == ["HM20261014-00001"]
    assert found.tracking_nos == []


# --- canonical form, order, dedupe -----------------------------------------------------------


def test_dedupe_and_order_of_appearance() -> None:
    text = "W3319402 和 HM20261014-55210，再说一次 w3319402；顺丰 SF2099384756102 / sf2099384756102"
    found = extract_numbers(text)
    assert found.order_nos == ["W3319402", "HM20261014-55210"]
    assert found.tracking_nos == ["SF2099384756102"]


def test_message_subject_and_connector_numbers(msg_factory) -> None:
    msg = msg_factory(
        "包裹在 SF2099384756102", subject="订单 hm20261014-55210 的问题", order_nos=["w3319402"]
    )
    extract_message(msg)
    assert msg.order_nos == ["W3319402", "HM20261014-55210"]
    assert msg.tracking_nos == ["SF2099384756102"]


def test_courier_keeps_connector_numbers_only(msg_factory) -> None:
    msg = msg_factory(
        "退回件 SF1111222233334 已揽收，联系电话 13600001111",
        channel=Channel.courier,
        tracking_nos=["sf 2099 3847 56102"],
    )
    extract_message(msg)
    assert msg.tracking_nos == ["SF2099384756102"]
    assert msg.order_nos == []


def test_custom_patterns_replace_builtins() -> None:
    settings = UnderstandSettings(order_patterns=[r"\bPO-\d{6}\b"], tracking_patterns=[r"\bZZ\d{8}\b"])
    found = extract_numbers("PO-123456 shipped as ZZ12345678, not W3319402", settings)
    assert found.order_nos == ["PO-123456"]
    assert found.tracking_nos == ["ZZ12345678"]


def test_extra_context_words() -> None:
    settings = UnderstandSettings(decoy_context=["voucher"])
    assert extract_numbers("voucher 9405511899561234567890", settings).tracking_nos == []
