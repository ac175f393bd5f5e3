"""General rules, on sentences written for these tests (none from the dev corpus)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.models import Channel, ComplaintMessage
from hub.understand import enrich


def read(text: str) -> ComplaintMessage:
    msg = ComplaintMessage(
        connector="email", native_id="t", channel=Channel.email, occurred_at=datetime.now(UTC), text=text
    )
    return enrich(msg)


@pytest.mark.parametrize(
    ("text", "category", "severity"),
    [
        ("羽绒服洗了一次就掉毛严重，订单号 HM20261020-12345，要求退货", "product_quality", "general"),
        ("新买的冰箱不制冷，放进去的肉都坏了", "product_quality", "general"),
        (
            "I was charged $59.99 three times for one order W2611555, please refund two of them.",
            "payment_refund",
            "severe",
        ),
        ("收到的奶粉罐子是鼓的，孩子喝了拉肚子", "product_quality", "severe"),
        ("Your agent hung up on me twice and never called back", "customer_service", "general"),
    ],
)
def test_category_and_severity(text: str, category: str, severity: str) -> None:
    msg = read(text)
    assert (msg.category.value if msg.category else None, msg.severity.value if msg.severity else None) == (
        category,
        severity,
    ), (msg.extra.get("category_reasons"), msg.severity_reasons)


def test_a_safety_problem_with_no_other_topic_is_about_a_product() -> None:
    msg = read("孩子用了之后皮肤红肿起疹子")
    assert msg.category is not None and msg.category.value == "product_quality"
    assert any(r.startswith("safety:") for r in msg.severity_reasons)


def test_disputing_with_the_bank_is_a_legal_threat() -> None:
    msg = read("No refund yet, so I'm disputing the payment with my bank tomorrow.")
    assert any(r.startswith("legal:") for r in msg.severity_reasons), msg.severity_reasons
