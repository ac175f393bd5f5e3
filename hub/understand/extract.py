"""Order and tracking numbers from a message's subject and text.

Two kinds of evidence, like an agent reading the message:

- *shape*: distinctive formats (``HM20260803-10427``, ``W2608156``, ``SF1588204417364``,
  ``1Z…``, ``RR…CN``, a bare 19-digit Tmall order, a 22-digit USPS waybill);
- *context*: the label right before a number ("订单号", "运单号", "中通", "tracking",
  "电话", "交易单号" …) accepts bare digit runs of other lengths or rejects decoys
  (phones, amounts, ticket, case, transaction, account and member numbers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hub.models import Channel, ComplaintMessage
from hub.understand.context import DECOY, ORDER, TRACKING, ContextLexicon, default_lexicon
from hub.understand.settings import UnderstandSettings
from hub.understand.textutil import EMAIL_RE, MAX_CHARS, URL_RE, mask

__all__ = ["Extraction", "canonical", "extract_message", "extract_numbers"]

_B = r"(?<![A-Za-z0-9])"  # start boundary
_E = r"(?![A-Za-z0-9])"  # end boundary
_DATE = r"20\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
_TRACKING_PREFIXES = {"SF", "YT", "JT", "LP", "JD", "JDV", "JDX", "ZTO", "STO", "EMS", "DHL", "UPS", "QQ"}


def _spaced(count: int) -> str:
    """``count`` digits, optionally grouped with single spaces."""
    return rf"\d(?:[ \u00a0]?\d){{{count - 1}}}"


def canonical(value: str) -> str:
    """Upper case, no spaces or '#'; dashes kept."""
    return re.sub(r"[\s#＃]+", "", value).upper()


_WORDS = {"ON", "AT", "BY", "IN", "OF", "TO", "IS", "NO", "OR", "THE", "AND", "FOR", "ORD", "NR", "REF", "ID"}


def _dated_order(match: re.Match[str]) -> str | None:
    prefix = match.group("p")
    if prefix.upper() in _WORDS:
        return None
    if match.start("d") > match.end("p") and not prefix.isupper():
        return None  # "xy 20261014…" : a detached lower-case prefix is a word, not a shop code
    return f"{prefix.upper()}{match.group('d')}-{match.group('n')}"


def _dated_order_undashed(match: re.Match[str]) -> str | None:
    """Without the dash the shape is weaker: never for a courier prefix (SF, YT, JD…)."""
    return None if match.group("p").upper() in _TRACKING_PREFIXES else _dated_order(match)


Canon = Callable[[re.Match[str]], str | None]


def _plain(match: re.Match[str]) -> str | None:
    return canonical(match.group(0))


#: built-in order shapes: (regex, canonicaliser)
ORDER_SHAPES: list[tuple[str, Canon]] = [
    # shop prefix + yyyymmdd + dash + serial: HM20260803-10427, JD20261031-88213 (also "hm 20260803 - 10427")
    (rf"{_B}(?P<p>[A-Za-z]{{2,3}})[ ]?(?P<d>{_DATE})[ ]?[-－–—_ ][ ]?(?P<n>\d{{4,6}}){_E}", _dated_order),
    # same without the dash: HM2026080310427
    (rf"{_B}(?P<p>[A-Za-z]{{2,3}})[ ]?(?P<d>{_DATE})(?P<n>\d{{5}}){_E}", _dated_order_undashed),
    # international shop: W + 7 digits, "#W2608455"
    (rf"{_B}#?[Ww][ ]?(?P<d>\d{{7}}){_E}", lambda m: "W" + m.group("d")),
]
#: built-in tracking shapes
TRACKING_SHAPES: list[tuple[str, Canon]] = [
    (rf"{_B}SF[ ]?(?:{_spaced(13)}|{_spaced(12)}){_E}", _plain),  # SF Express
    (rf"{_B}YT[ ]?(?:{_spaced(16)}|{_spaced(13)}){_E}", _plain),  # YunExpress / YTO
    (rf"{_B}JD[A-Z]{{1,2}}[ ]?{_spaced(12)}{_E}", _plain),  # JD Logistics
    (rf"{_B}JT[ ]?{_spaced(13)}{_E}", _plain),  # J&T
    (rf"{_B}1Z(?:[ ]?[0-9A-Z]){{16}}{_E}", _plain),  # UPS
    (rf"{_B}(?i:[A-Z]{{2}}[ ]?\d{{3}}[ ]?\d{{3}}[ ]?\d{{3}}[ ]?[A-Z]{{2}}){_E}", _plain),  # UPU S10
]

_CURRENCY_BEFORE = re.compile(r"(?:[$¥￥£€]|NT\$|HK\$|RMB|CNY|USD|HKD|TWD|GBP|EUR)\s?$", re.IGNORECASE)
_AMOUNT_AFTER = re.compile(r"^\s?(?:元|块|美元|港币|港幣|dollars?|pounds?|euros?|%|％)", re.IGNORECASE)
_DIGIT_RUN = re.compile(r"\d+(?:[ \u00a0]\d+)*")
_CODE_TOKEN = re.compile(r"(?<![A-Za-z0-9\-])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*(?![A-Za-z0-9])")
_DATE_TOKEN = re.compile(r"\d{2,4}[-/.]\d{1,2}[-/.]\d{1,4}")
_CN_MOBILE = re.compile(r"(?:0{0,2}86)?1[3-9]\d{9}")


@dataclass
class Extraction:
    order_nos: list[str]
    tracking_nos: list[str]


@dataclass
class _Hit:
    start: int
    end: int
    kind: str
    value: str


class _Reader:
    def __init__(self, text: str, settings: UnderstandSettings) -> None:
        self.text = mask(mask(text, EMAIL_RE), URL_RE)
        self.lex: ContextLexicon = default_lexicon(
            settings.order_context, settings.tracking_context, settings.decoy_context
        )
        self.orders = _compile(settings.order_patterns, ORDER_SHAPES)
        self.trackings = _compile(settings.tracking_patterns, TRACKING_SHAPES)
        self.hits: list[_Hit] = []

    def taken(self, start: int, end: int) -> bool:
        return any(h.start < end and start < h.end for h in self.hits)

    def add(self, start: int, end: int, kind: str, value: str | None) -> None:
        if value and not self.taken(start, end):
            self.hits.append(_Hit(start, end, kind, value))

    def immediate_decoy(self, start: int, end: int) -> bool:
        before = self.lex.label_before(self.text, start)
        if before is not None and before.immediate and before.kind == DECOY:
            return True
        after = self.lex.label_after(self.text, end)
        return after is not None and after.kind == DECOY

    def shapes(self) -> None:
        for kind, shapes in ((ORDER, self.orders), (TRACKING, self.trackings)):
            for regex, canon in shapes:
                for m in regex.finditer(self.text):
                    if not self.taken(m.start(), m.end()) and not self.immediate_decoy(m.start(), m.end()):
                        self.add(m.start(), m.end(), kind, canon(m))

    def labelled_codes(self) -> None:
        """Codes of unknown shape (letters, digits, dashes), accepted only right after a label."""
        for m in _CODE_TOKEN.finditer(self.text):
            token = m.group(0)
            digits = sum(ch.isdigit() for ch in token)
            if digits < 6 or len(token) > 32 or token.isdigit() or _DATE_TOKEN.fullmatch(token):
                continue
            if _CN_MOBILE.fullmatch(token.replace("-", "")) or self.taken(m.start(), m.end()):
                continue
            label = self.lex.label_before(self.text, m.start())
            if label and label.immediate and label.kind in (ORDER, TRACKING):
                self.add(m.start(), m.end(), label.kind, canonical(token))

    def digit_runs(self) -> None:
        for m in _DIGIT_RUN.finditer(self.text):
            groups = m.group(0).split()
            spans: list[tuple[int, int]] = []
            if len(groups) > 1 and all(len(g) <= 6 for g in groups) and len(groups[0]) >= 2:
                spans.append((m.start(), m.end()))
            pos = m.start()
            for g in groups:
                pos = self.text.index(g, pos)
                spans.append((pos, pos + len(g)))
                pos += len(g)
            for start, end in spans:
                if self.taken(start, end):
                    continue
                kind = self.judge_digits(start, end)
                if kind:
                    self.add(start, end, kind, re.sub(r"\s", "", self.text[start:end]))
                    if (start, end) == (m.start(), m.end()) and len(groups) > 1:
                        break

    def judge_digits(self, start: int, end: int) -> str | None:
        text = self.text
        digits = re.sub(r"\s", "", text[start:end])
        n = len(digits)
        if n < 6 or n > 30 or not _free_standing(text, start, end):
            return None
        label = self.lex.label_before(text, start)
        after = self.lex.label_after(text, end)
        if after is not None and after.kind == DECOY:
            return None
        immediate = label is not None and label.immediate
        if _CN_MOBILE.fullmatch(digits) and not (immediate and label and label.kind != DECOY):
            return None
        if label is not None and label.kind == DECOY:
            return None
        if label is not None and label.kind == ORDER and (immediate or n == 19) and n <= 24:
            return ORDER
        if label is not None and label.kind == TRACKING and 10 <= n <= 26:
            return TRACKING
        if n == 19:
            return ORDER  # Tmall / Taobao order
        if n in (20, 22, 26) and digits[0] == "9":
            return TRACKING  # USPS
        if n == 14 and digits[0] == "7":
            return TRACKING  # ZTO
        return None


def _free_standing(text: str, start: int, end: int) -> bool:
    """Not part of a phone (+86…), amount (¥1,299.00), date (2026-08-06), code or unit (20000mAh)."""
    before = text[max(0, start - 4) : start]
    after = text[end : end + 4]
    if before[-1:].isascii() and before[-1:].isalpha():
        return False
    if after[:1].isascii() and after[:1].isalpha():
        return False
    if re.search(r"\+[\d\s()（）-]*$", text[max(0, start - 8) : start]):
        return False
    if re.search(r"\d[.,:/\-]$", before) or re.match(r"^[.,:/\-]\d", after):
        return False
    if re.search(r"[/\-@_]$", before) or re.match(r"^[/@_]", after):
        return False
    return not (_CURRENCY_BEFORE.search(text[max(0, start - 5) : start]) or _AMOUNT_AFTER.match(after))


def _compile(
    patterns: list[str] | None, defaults: list[tuple[str, Canon]]
) -> list[tuple[re.Pattern[str], Canon]]:
    if patterns is None:
        return [(re.compile(p), c) for p, c in defaults]
    out: list[tuple[re.Pattern[str], Canon]] = []
    for pattern in patterns:
        try:
            out.append((re.compile(pattern, re.IGNORECASE), _plain))
        except re.error:
            continue
    return out


def extract_numbers(text: str, settings: UnderstandSettings | None = None) -> Extraction:
    """Order and tracking numbers in ``text``, canonical, deduplicated, in order of appearance."""
    reader = _Reader((text or "")[:MAX_CHARS], settings or UnderstandSettings())
    reader.shapes()
    reader.labelled_codes()
    reader.digit_runs()
    orders: list[str] = []
    trackings: list[str] = []
    for hit in sorted(reader.hits, key=lambda h: h.start):
        target = orders if hit.kind == ORDER else trackings
        if hit.value not in target:
            target.append(hit.value)
    return Extraction(order_nos=orders, tracking_nos=trackings)


def extract_message(msg: ComplaintMessage, settings: UnderstandSettings | None = None) -> ComplaintMessage:
    """Add numbers found in subject, text and ``extra["related_text"]`` (e.g. a bounced
    message's subject) to what the connector gave (kept first).

    Courier events keep only the connector's numbers: a scan text may quote a return
    waybill that is not this shipment's.
    """
    orders = _dedupe(canonical(v) for v in msg.order_nos if v and v.strip())
    trackings = _dedupe(canonical(v) for v in msg.tracking_nos if v and v.strip())
    if msg.channel != Channel.courier:
        related = msg.extra.get("related_text")
        parts = (msg.subject or "", msg.text or "", related if isinstance(related, str) else "")
        found = extract_numbers("\n".join(p for p in parts if p), settings)
        orders = _dedupe([*orders, *found.order_nos])
        trackings = _dedupe([*trackings, *found.tracking_nos])
    msg.order_nos = orders
    msg.tracking_nos = trackings
    return msg


def _dedupe(values: Iterable[str]) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen
