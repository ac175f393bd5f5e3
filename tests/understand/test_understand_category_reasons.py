"""Each decision records why: the hits behind the category, beside the severity reasons."""

from __future__ import annotations

from pathlib import Path

from hub.models import Category, Channel, Severity
from hub.understand import UnderstandSettings, enrich
from hub.understand.classify import classify, classify_with_reasons
from hub.understand.taxonomy import TextView, load_taxonomy
from tests.understand.conftest import make_message

TAXONOMY = """\
categories:
  logistics:
    zh: {3: [没收到], 2: [快递]}
    en: {3: ["never arrived"], 2: [package], 1: [wait]}
  payment_refund:
    zh: {3: [退款]}
    en: {3: [refund]}
  product_quality:
    zh: {3: [坏了]}
  customer_service:
    zh: {1: [客服]}
tie_break: [product_quality, payment_refund, logistics, customer_service]
margin: {customer_service: 2.0}
channel_category: {courier: logistics}
severity:
  rules:
    safety: {zh: [冒烟]}
noise:
  complaint: {zh: [坏]}
"""


def settings(tmp_path: Path) -> UnderstandSettings:
    path = tmp_path / "taxonomy.yaml"
    path.write_text(TAXONOMY, encoding="utf-8")
    return UnderstandSettings(taxonomy_path=path)


def test_reasons_are_the_winning_hits_strongest_first(tmp_path: Path) -> None:
    msg = enrich(make_message("快递三天了，我还是没收到，客服也不回"), settings(tmp_path))
    assert msg.category == Category.logistics
    assert msg.extra["category_reasons"] == ["logistics:没收到 (3.0)", "logistics:快递 (2.0)"]


def test_english_reasons_show_the_words_as_written(tmp_path: Path) -> None:
    msg = enrich(
        make_message("Still waiting: the package never arrived", channel=Channel.x), settings(tmp_path)
    )
    assert msg.category == Category.logistics
    assert msg.extra["category_reasons"] == [
        "logistics:never arrived (3.0)",
        "logistics:package (2.0)",
        "logistics:waiting (1.0)",
    ]


def test_reasons_sit_beside_the_severity_reasons(tmp_path: Path) -> None:
    msg = enrich(make_message("水壶坏了，还冒烟"), settings(tmp_path))
    assert msg.category == Category.product_quality
    assert msg.extra["category_reasons"] == ["product_quality:坏了 (3.0)"]
    assert msg.severity == Severity.severe
    assert msg.severity_reasons == ["safety:冒烟"]


def test_tie_break_default_and_channel_are_named(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(settings(tmp_path).taxonomy_file())
    category, reasons = classify_with_reasons(TextView.of("快递没收到，要退款"), taxonomy)
    # logistics 5.0 > payment_refund 3.0
    assert category == Category.logistics and reasons == ["logistics:没收到 (3.0)", "logistics:快递 (2.0)"]
    category, reasons = classify_with_reasons(TextView.of("没收到，要退款"), taxonomy)
    assert category == Category.payment_refund
    assert reasons == ["payment_refund:退款 (3.0)", "tie_break:payment_refund=logistics (3.0)"]
    assert classify_with_reasons(TextView.of("你好"), taxonomy) == (Category.other, ["default:other"])
    assert classify_with_reasons(TextView.of("退款"), taxonomy, "courier") == (
        Category.logistics,
        ["channel:courier"],
    )


def test_at_most_five_reasons_and_classify_agrees(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(Path(__file__).resolve().parents[2] / "mappings" / "taxonomy.yaml")
    text = "快递员说已签收，包裹没收到，物流信息不更新，快递单号查不到，驿站也没有，运单号错了"
    category, reasons = classify_with_reasons(TextView.of(text), taxonomy)
    assert category == classify(TextView.of(text), taxonomy) == Category.logistics
    assert 1 <= len(reasons) <= 5
    weights = [float(r.rsplit("(", 1)[1].rstrip(")")) for r in reasons]
    assert weights == sorted(weights, reverse=True)
    assert all(r.startswith("logistics:") for r in reasons)


def test_a_preset_category_and_non_complaints_get_no_reasons(tmp_path: Path) -> None:
    preset = enrich(make_message("快递没收到", category=Category.promotion), settings(tmp_path))
    assert preset.category == Category.promotion and "category_reasons" not in preset.extra
    empty = enrich(make_message("   "), settings(tmp_path))
    assert not empty.actionable and "category_reasons" not in empty.extra
