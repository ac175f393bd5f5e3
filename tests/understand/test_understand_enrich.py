"""The whole understanding step: order of steps, settings, robustness."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from hub.models import Category, Channel, Identity, IdentityKind, NonActionable, Severity
from hub.understand import UnderstandSettings, enrich, mappings_dir


def test_voicemail_end_to_end(msg_factory) -> None:
    msg = msg_factory(
        "喂 我姓赵 订单号是H M二零二六幺零零二 杠 三三四五六 买的电暖器 昨晚插上就冒烟了 "
        "差点起火 我电话幺八六 零零幺二 三四五六 请回电",
        channel=Channel.voicemail,
        identities=[Identity(kind=IdentityKind.phone, value="+8618600123456")],
    )
    enrich(msg)
    assert msg.extra["transcript_raw"].startswith("喂 我姓赵")
    assert msg.order_nos == ["HM20261002-33456"]
    assert msg.tracking_nos == []
    assert [str(i) for i in msg.identities] == ["phone:+8618600123456"]
    assert msg.language == "zh-Hans"
    assert msg.actionable
    assert msg.category == Category.product_quality
    assert msg.severity == Severity.severe
    assert any(r.startswith("safety:") for r in msg.severity_reasons)


def test_english_voicemail_end_to_end(msg_factory) -> None:
    msg = msg_factory(
        "hi this is dana calling about order w three one oh five two two four it never arrived "
        "and this is the third time i am calling please call me back at six one seven five five five "
        "oh one four three",
        channel=Channel.voicemail,
        identities=[Identity(kind=IdentityKind.phone, value="+16175550143")],
    )
    enrich(msg)
    assert msg.order_nos == ["W3105224"]
    assert msg.language == "en"
    assert [i.value for i in msg.identities] == ["+16175550143"]
    assert msg.category == Category.logistics
    assert msg.severity == Severity.severe
    assert "repeat:third time" in msg.severity_reasons


def test_email_end_to_end(msg_factory) -> None:
    settings = UnderstandSettings(own_addresses=["care@shop.example.com"])
    msg = msg_factory(
        "您好，訂單 W3319402 的包裹顯示已簽收，但我沒收到。順豐單號 SF2099384756102。\n"
        "請回覆 care@shop.example.com 以外的信箱：yuting@example.tw\n林雨婷 0933-271-608",
        subject="包裹沒收到",
    )
    enrich(msg, settings)
    assert msg.language == "zh-Hant"
    assert msg.order_nos == ["W3319402"]
    assert msg.tracking_nos == ["SF2099384756102"]
    assert [str(i) for i in msg.identities] == ["email:yuting@example.tw", "phone:+886933271608"]
    assert msg.category == Category.logistics
    assert msg.severity == Severity.general


def test_spam_is_flagged_and_not_classified(msg_factory) -> None:
    msg = enrich(msg_factory("代开各类正规发票，点数优惠，验证后付款，加微信 abc", channel=Channel.x))
    assert msg.non_actionable_reason == NonActionable.spam
    assert msg.category is None and msg.severity is None


def test_courier_event(msg_factory) -> None:
    msg = msg_factory(
        "【杭州市】派件员【钱师傅】电话 13677778888 派送不成功，第三次派送",
        channel=Channel.courier,
        tracking_nos=["75311223344556"],
    )
    enrich(msg)
    assert msg.tracking_nos == ["75311223344556"]
    assert msg.identities == []
    assert msg.category == Category.logistics
    assert msg.severity == Severity.general


def test_mappings_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, msg_factory) -> None:
    shutil.copy(mappings_dir() / "taxonomy.yaml", tmp_path / "taxonomy.yaml")
    text = (tmp_path / "taxonomy.yaml").read_text(encoding="utf-8")
    (tmp_path / "taxonomy.yaml").write_text(
        text.replace("default_category: other", "default_category: promotion")
    )
    monkeypatch.setenv("HUB_MAPPINGS_DIR", str(tmp_path))
    assert mappings_dir() == tmp_path
    msg = enrich(msg_factory("你好"))
    assert msg.category == Category.promotion


_ALPHABET = (
    "abcXYZ0123456789 \n\t#@:：-_/\\$¥￥%.,，。！？“”'\"()（）【】<>"
    "订单号快递单号電話幺两零〇杠壞咗😀👍\u200b\u0000\ufeff\U0001f600\ud7ff"
)


def test_enrich_never_raises_on_garbage(msg_factory) -> None:
    rng = random.Random(20261014)
    for i in range(400):
        length = rng.randint(0, 300)
        text = "".join(rng.choice(_ALPHABET) for _ in range(length))
        if i % 5 == 0:
            text = "".join(chr(rng.randint(1, 0x2FFFF)) for _ in range(length))
            text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        channel = list(Channel)[i % len(Channel)]
        msg = msg_factory(text, channel=channel, subject=text[:20] if i % 3 else None)
        out = enrich(msg)
        assert out is msg
        assert "understand_errors" not in msg.extra, msg.extra.get("understand_errors")


def test_enrich_survives_a_failing_step(msg_factory, monkeypatch: pytest.MonkeyPatch) -> None:
    import hub.understand as understand

    def boom(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(understand, "extract_message", boom)
    msg = enrich(msg_factory("包裹还没到 W3319402"))
    assert msg.extra["understand_errors"] == ["extract: RuntimeError: boom"]
    assert msg.category == Category.logistics
