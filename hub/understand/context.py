"""Context lexicons: the words around a number that say what it is.

A candidate number is judged by the nearest label before it ("订单号", "tracking",
"电话", "交易单号" ...). Keywords are listed once in Simplified Chinese or English;
Traditional variants are derived with OpenCC, so "訂單編號" and "運單號" match too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from hub.understand.textutil import to_traditional

__all__ = ["ContextLexicon", "Label", "default_lexicon"]

ORDER = "order"
TRACKING = "tracking"
DECOY = "decoy"

ORDER_WORDS = (
    "订单号", "订单编号", "订单", "订单号码", "订购编号", "订购单号", "主订单", "天猫订单", "淘宝订单",
    "京东订单", "下单", "order", "order no", "order number", "order #", "order id", "order ref",
    "ord", "purchase", "tmall", "taobao", "訂單號碼",
)  # fmt: skip
TRACKING_WORDS = (
    "快递单号", "运单号", "运单编号", "运单", "物流单号", "快递", "物流", "包裹", "单号", "退货单号",
    "寄回", "寄件", "顺丰", "顺丰速运", "中通", "中通快递", "圆通", "申通", "韵达", "百世", "极兔",
    "京东快递", "京东物流", "邮政", "邮政小包", "德邦", "菜鸟", "天天快递", "宅急送", "ems",
    "tracking", "tracking no", "tracking number", "tracking #", "tracking id", "waybill", "awb",
    "shipment", "parcel", "package", "usps", "ups", "fedex", "dhl", "china post", "yunexpress",
    "yanwen", "royal mail", "canada post", "australia post", "auspost", "sf express", "courier",
    "consignment", "label", "順豐", "郵局", "中華郵政", "黑貓", "嘉里", "新竹物流", "萬家",
)  # fmt: skip
DECOY_WORDS = (
    "电话", "手机", "手机号", "联系电话", "联系方式", "热线", "客服热线", "座机", "传真", "电话号码",
    "qq", "微信", "微信号", "vx", "邮编", "邮政编码", "会员", "会员号", "会员卡", "账号", "账户",
    "帐号", "卡号", "银行卡", "尾号", "开户行", "税号", "纳税人识别号", "统一社会信用代码",
    "身份证", "交易单号", "交易号", "商户单号", "支付单号", "流水号", "凭证号", "工单", "工单号",
    "受理编号", "受理号", "投诉编号", "案件编号", "申请编号", "申请号", "售后单号", "服务单号",
    "退款单号", "申请单号", "退货申请号", "发票号", "发票号码", "发票代码", "编号", "对话纪录编号",
    "统编", "统一编号", "电話", "專線",
    "phone", "tel", "mobile", "cell", "fax", "call", "text", "whatsapp", "wechat", "zip",
    "postcode", "postal code", "member", "membership", "member id", "account", "acct", "card",
    "ending in", "ends in", "iban", "routing", "tax", "vat", "ein", "ssn", "case no", "case #",
    "case number", "case id", "ticket", "reference", "ref", "claim no", "claim number", "claim #",
    "transaction", "transaction id", "txn", "invoice", "receipt", "application", "rma", "chat",
    "chat id", "session",
)  # fmt: skip

_IMMEDIATE_GAP = re.compile(
    r"[\s:：#＃.\-=（(【\[]*(?:(?:is|no\.?|number|nr\.?|num|是|为|為|号|號|码|碼|尾号)[\s:：#＃.\-=]*){0,3}",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Label:
    """The nearest context label before a candidate."""

    kind: str
    word: str
    immediate: bool


class ContextLexicon:
    """Keyword → kind, searched as one regular expression."""

    def __init__(self, words: dict[str, Iterable[str]]) -> None:
        self.kinds: dict[str, str] = {}
        for kind, items in words.items():
            for word in items:
                for variant in {word.lower(), to_traditional(word).lower()}:
                    self.kinds.setdefault(variant, kind)
        parts = []
        for word in sorted(self.kinds, key=len, reverse=True):
            escaped = re.escape(word).replace(r"\ ", r"\s*")
            if word.isascii() and word[:1].isalnum():
                escaped = rf"(?<![a-z]){escaped}(?![a-z])"
            parts.append(escaped)
        self.regex = re.compile("|".join(parts) or r"(?!x)x", re.IGNORECASE)

    def label_before(self, text: str, start: int, window: int = 30) -> Label | None:
        """The nearest keyword ending before ``start`` within ``window`` characters."""
        lo = max(0, start - window)
        best: re.Match[str] | None = None
        for match in self.regex.finditer(text, lo, start):
            if best is None or match.end() >= best.end():
                best = match
        if best is None:
            return None
        word = re.sub(r"\s+", " ", best.group(0).lower())
        kind = self.kinds.get(word) or self.kinds.get(word.replace(" ", ""), DECOY)
        gap = text[best.end() : start]
        return Label(kind=kind, word=word, immediate=bool(_IMMEDIATE_GAP.fullmatch(gap)))

    def label_after(self, text: str, end: int, window: int = 8) -> Label | None:
        """A keyword in brackets right after ``end`` ("4200…（交易单号）")."""
        match = self.regex.search(text, end, min(len(text), end + window))
        if match is None or not re.fullmatch(r"\s*[（(【\[]\s*", text[end : match.start()]):
            return None
        word = re.sub(r"\s+", " ", match.group(0).lower())
        return Label(kind=self.kinds.get(word, DECOY), word=word, immediate=True)


@cache
def _cached(
    extra_order: tuple[str, ...], extra_tracking: tuple[str, ...], extra_decoy: tuple[str, ...]
) -> ContextLexicon:
    return ContextLexicon(
        {
            ORDER: ORDER_WORDS + extra_order,
            TRACKING: TRACKING_WORDS + extra_tracking,
            DECOY: DECOY_WORDS + extra_decoy,
        }
    )


def default_lexicon(
    order: Iterable[str] = (), tracking: Iterable[str] = (), decoy: Iterable[str] = ()
) -> ContextLexicon:
    """The built-in lexicon plus extra words (cached)."""
    return _cached(tuple(order), tuple(tracking), tuple(decoy))
