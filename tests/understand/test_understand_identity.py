"""Customer identities: e-mails lower-cased, phones in E.164, the shop and third parties left out."""

from __future__ import annotations

import pytest

from hub.models import Channel, Identity, IdentityKind
from hub.understand import UnderstandSettings
from hub.understand.identity import normalise_phone, read_identities, text_phones


def values(msg, kind: IdentityKind) -> list[str]:
    return [i.value for i in msg.identities if i.kind == kind]


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("手机 139 0211 3344", "+8613902113344"),
        ("手机：139-0211-3344", "+8613902113344"),
        ("tel 13902113344", "+8613902113344"),
        ("+86 139 0211 3344", "+8613902113344"),
        ("+86-13902113344", "+8613902113344"),
        ("008613902113344", "+8613902113344"),
        ("家里座机 010-6523 8877", "+861065238877"),
    ],
)
def test_cn_phone_formats(written: str, e164: str) -> None:
    assert text_phones(written, ["CN"]) == [e164]


def test_foreign_phones_with_region_hints() -> None:
    assert text_phones("reach me at (617) 555-0143", ["CN", "US"]) == ["+16175550143"]
    assert text_phones("行動電話 0933-271-608", ["CN", "TW", "HK"]) == ["+886933271608"]
    assert text_phones("聯絡電話 6188 2045", ["CN", "HK"]) == ["+85261882045"]
    assert text_phones("+44 20 7946 0321", ["CN"]) == ["+442079460321"]


def test_us_number_is_not_read_as_cn_landline() -> None:
    assert text_phones("my cell 617-555-0143", ["CN"]) == []


@pytest.mark.parametrize(
    "text",
    [
        "客服热线 400-881-2233",
        "QQ:2837465019",
        "快递员电话 13788001122 一直不接",
        "打了网点电话 0571-8800 1234 没人接",
        "售后组地址 东莞某仓，电话0769-2211 3344",
        "the courier's number is 617-555-0199",
        "订单号 3301982274650019283",
        "会员号 66120077",
    ],
)
def test_not_customer_phones(text: str) -> None:
    assert text_phones(text, ["CN", "US"]) == []


def test_normalise_phone() -> None:
    assert normalise_phone("13501238877") == "+8613501238877"
    assert normalise_phone("+8613501238877") == "+8613501238877"
    assert normalise_phone("+1 (929) 555-0173") == "+19295550173"
    assert normalise_phone("abc") is None


def test_message_identities(msg_factory) -> None:
    msg = msg_factory(
        "请回复 Li.Ming@Example.COM 或打 139 0211 3344。",
        identities=[
            Identity(kind=IdentityKind.email, value=" Li.Ming@example.com "),
            Identity(kind=IdentityKind.phone, value="13501238877"),
            Identity(kind=IdentityKind.name, value="李明"),
        ],
        extra={"signature": "李明\n手机：+86 135 0123 8877\nming.li@work.example.cn"},
    )
    read_identities(msg)
    assert values(msg, IdentityKind.email) == ["li.ming@example.com", "ming.li@work.example.cn"]
    assert values(msg, IdentityKind.phone) == ["+8613501238877", "+8613902113344"]
    assert values(msg, IdentityKind.name) == ["李明"]


def test_own_addresses_never_count(msg_factory) -> None:
    settings = UnderstandSettings(
        own_addresses=["Help@Shop.example.com", "+86 21 6100 2000", "@ShopHQ", "13911112222"]
    )
    msg = msg_factory(
        "From help@shop.example.com: 请致电 021-6100 2000 或 139 1111 2222；我的邮箱 wu@example.org",
        channel=Channel.x,
        identities=[
            Identity(kind=IdentityKind.handle, value="x:@shophq"),
            Identity(kind=IdentityKind.handle, value="x:@wu_fang"),
        ],
    )
    read_identities(msg, settings)
    assert [str(i) for i in msg.identities] == ["handle:x:@wu_fang", "email:wu@example.org"]


def test_courier_adds_no_text_identities(msg_factory) -> None:
    msg = msg_factory(
        "派件员【赵师傅】电话 13677778888 正在派件",
        channel=Channel.courier,
        identities=[Identity(kind=IdentityKind.phone, value="+886912000111")],
    )
    read_identities(msg)
    assert [str(i) for i in msg.identities] == ["phone:+886912000111"]


def test_voicemail_digits_after_normalisation(msg_factory) -> None:
    msg = msg_factory(
        "我电话是18600123456 回电话给我",
        channel=Channel.voicemail,
        identities=[Identity(kind=IdentityKind.phone, value="+8618600123456")],
    )
    read_identities(msg)
    assert values(msg, IdentityKind.phone) == ["+8618600123456"]


def test_caller_region_reads_local_numbers(msg_factory) -> None:
    msg = msg_factory(
        "打翻我 6188 2045",
        channel=Channel.voicemail,
        identities=[Identity(kind=IdentityKind.phone, value="+85290001111")],
    )
    read_identities(msg)
    assert values(msg, IdentityKind.phone) == ["+85290001111", "+85261882045"]


def test_no_reply_addresses_ignored(msg_factory) -> None:
    msg = msg_factory("mailer-daemon@mx.example.net 退信; noreply@shop.example.com")
    read_identities(msg)
    assert values(msg, IdentityKind.email) == []


def test_handles_the_writer_gives(msg_factory) -> None:
    msg = msg_factory(
        "I put photos in my Mastodon thread (@kofi_a@fosstodon.org). "
        "Please don't DM @shophq@mastodon.social. My twitter is @KofiA_88",
        identities=[Identity(kind=IdentityKind.email, value="kofi@example.com")],
    )
    read_identities(msg, UnderstandSettings(own_addresses=["@shophq@mastodon.social"]))
    assert [i.value for i in msg.identities if i.kind == IdentityKind.handle] == [
        "mastodon:@kofi_a@fosstodon.org",
        "x:@kofia_88",
    ]
    assert "email:kofi_a@fosstodon.org" not in [str(i) for i in msg.identities]


def test_mentions_in_social_posts_are_not_the_author(msg_factory) -> None:
    msg = msg_factory("my friend @ana@mas.to had the same problem", channel=Channel.mastodon)
    read_identities(msg)
    assert msg.identities == []


@pytest.mark.parametrize(
    ("text", "e164"),
    [
        ("麻烦客服回电 13902113344", "+8613902113344"),
        ("快递员不接电话，我的手机 13902113344", "+8613902113344"),
        ("the courier called me, my cell is 617-555-0143", "+16175550143"),
    ],
)
def test_own_phone_next_to_third_party_words(text: str, e164: str) -> None:
    assert text_phones(text, ["CN", "US"]) == [e164]
