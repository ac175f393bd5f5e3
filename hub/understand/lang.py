"""Language of a message: ``zh-Hans``, ``zh-Hant``, ``en`` or ``mixed``.

Han characters against Latin words decide Chinese vs English (codes, e-mail
addresses, URLs and @handles are ignored). Traditional vs Simplified is decided by
which OpenCC conversion (t2s or s2t) changes more characters; written Cantonese
particles (嘅 咗 唔 係 冇 …) count as Traditional.
"""

from __future__ import annotations

import re

from hub.models import ComplaintMessage
from hub.understand.textutil import EMAIL_RE, HAN_RE, MAX_CHARS, URL_RE, mask, to_simplified, to_traditional

__all__ = ["CANTONESE_MARKERS", "detect_language", "set_language"]

CANTONESE_MARKERS = frozenset("嘅咗唔冇哋佢嗰啲咁喺乜嘢睇搵畀俾嚟攞咩噉啱嘞喎囉")
_NOISE_RE = re.compile(r"[@#][A-Za-z0-9_.\-]+|[A-Za-z0-9_\-]*\d[A-Za-z0-9_\-]*")
_REPLY_PREFIX = re.compile(r"^(?:\s*(?:re|fw|fwd|aw|sv|回复|答复|转发|回覆|轉寄)\s*[:：]\s*)+", re.IGNORECASE)
_LATIN_WORD_RE = re.compile(r"[A-Za-z]{2,}")
#: Han share (Han chars vs weighted Latin words) above which a text is Chinese, below which English
ZH_THRESHOLD = 0.6
EN_THRESHOLD = 0.3
#: a Latin word carries about as much as this many Han characters
LATIN_WORD_WEIGHT = 1.5


def detect_language(text: str) -> str | None:
    """Best guess, or None when the text has no letters at all."""
    clean = _NOISE_RE.sub(" ", mask(mask((text or "")[:MAX_CHARS], EMAIL_RE), URL_RE))
    han = HAN_RE.findall(clean)
    latin_words = len(_LATIN_WORD_RE.findall(clean))
    if not han and not latin_words:
        return None
    share = len(han) / (len(han) + LATIN_WORD_WEIGHT * latin_words)
    if share < EN_THRESHOLD:
        return "en"
    if share < ZH_THRESHOLD:
        return "mixed"
    return _chinese_script("".join(han))


def _chinese_script(han: str) -> str:
    simplified = to_simplified(han)
    traditional = to_traditional(han)
    trad_only = sum(a != b for a, b in zip(han, simplified, strict=False))
    simp_only = sum(a != b for a, b in zip(han, traditional, strict=False))
    cantonese = sum(ch in CANTONESE_MARKERS for ch in han)
    return "zh-Hant" if trad_only + 2 * cantonese > simp_only else "zh-Hans"


def set_language(msg: ComplaintMessage) -> ComplaintMessage:
    """Set ``msg.language`` from subject and text (kept as is when nothing can be read)."""
    subject = _REPLY_PREFIX.sub("", msg.subject or "")
    detected = detect_language("\n".join(p for p in (subject, msg.text or "") if p))
    if detected:
        msg.language = detected
    return msg
