"""Byte → text decoding that survives wrong or missing charset declarations."""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

__all__ = ["decode_bytes", "normalise_charset"]

#: declared charsets replaced by the superset that real mailers actually send
_SUPERSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "csgb2312": "gb18030",
    "chinese": "gb18030",
    "big5": "big5hkscs",
    "x-big5": "big5hkscs",
    "cn-big5": "big5hkscs",
    "cp950": "big5hkscs",
    "big5-hkscs": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "euc-kr": "cp949",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "euc_kr": "cp949",
    "us-ascii": "ascii",
    "utf8": "utf-8",
}
#: declarations that say nothing useful
_UNKNOWN = {"", "unknown-8bit", "x-unknown", "unknown", "default", "charset", "none", "8bit", "binary"}
#: single-byte codecs decode any bytes, so an error never reveals a wrong label
_SINGLE_BYTE = {"ascii", "cp1252", "iso8859-15", "iso8859-2", "cp1250", "cp1251", "koi8-r"}
#: multi-byte codecs that old Chinese, Japanese and Korean mailers hide behind a latin-1 label
_CJK = {"gb18030", "big5hkscs", "cp932", "cp949", "euc_jp", "utf-8"}
#: above this many replacement characters per 1,000, a lossy decode is not trusted
_MAX_BAD_PER_MILLE = 5
#: this many non-ASCII characters in valid UTF-8 outweigh another declaration
_UTF8_EVIDENCE = 3
#: private-use characters: the mark of a wrong double-byte decode
_PRIVATE_USE = re.compile("[\ue000-\uf8ff]")
#: tie-break order between equally plausible detections
_PREFERRED = ("gb18030", "big5hkscs", "utf-8", "cp932", "cp949")
#: charset detection reads only a prefix: linear time on huge bodies
_DETECT_LIMIT = 256 * 1024


def normalise_charset(declared: str | None) -> str | None:
    """Return the Python codec to use for a declared MIME charset, or ``None`` if unknown."""
    if not declared:
        return None
    name = declared.strip().strip("\"'").lower().split("*", 1)[0]
    if name in _UNKNOWN:
        return None
    name = _SUPERSETS.get(name, name)
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        return None
    return _SUPERSETS.get(codec, codec)


def _ascii_compatible(codec: str) -> bool:
    try:
        return "From: a".encode(codec) == b"From: a"
    except (LookupError, UnicodeError):
        return False


def _non_ascii(text: str) -> int:
    return sum(1 for char in text if ord(char) > 127)


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _lossy_ok(data: bytes, codec: str) -> str | None:
    """Decode with replacements when only a few bytes are broken (e.g. a truncated tail)."""
    try:
        text = data.decode(codec, errors="replace")
    except LookupError:
        return None
    bad = text.count("\ufffd")
    return text if bad * 1000 <= max(len(text), 1) * _MAX_BAD_PER_MILLE else None


def _detect(data: bytes) -> str | None:
    """charset_normalizer's guess; on short texts ties go to Chinese codecs (the shop's customers)."""
    candidates: list[tuple[float, int, str]] = []
    for match in from_bytes(data[:_DETECT_LIMIT]):
        codec = normalise_charset(match.encoding)
        if codec is None or codec.startswith(("utf-16", "utf-32", "utf_16", "utf_32")):
            continue
        rank = _PREFERRED.index(codec) if codec in _PREFERRED else len(_PREFERRED)
        candidates.append((round(match.chaos, 2), rank, codec))
    return min(candidates)[2] if candidates else None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data`` to text, returning ``(text, codec used)``.

    Order: pure ASCII; UTF-8 when the bytes are clearly UTF-8; the declared charset
    (as its superset, e.g. gb2312 → gb18030, big5 → big5hkscs); UTF-8; the declared
    charset if only a few bytes are broken; charset_normalizer's guess; finally UTF-8
    with replacement characters.
    A single-byte declaration (latin-1, ascii ...) loses to valid UTF-8 and to a
    detected CJK charset, since such labels decode any bytes without error.
    """
    if not data:
        return "", normalise_charset(declared) or "ascii"
    codec = normalise_charset(declared)
    if data.isascii():
        return data.decode("ascii"), codec if codec and _ascii_compatible(codec) else "ascii"
    utf8 = _strict(data, "utf-8")
    if utf8 is not None and codec != "utf-8" and _non_ascii(utf8) >= _UTF8_EVIDENCE:
        # legacy CJK text is almost never valid UTF-8 beyond a couple of characters
        return utf8, "utf-8"
    if codec is not None and codec not in _SINGLE_BYTE:
        text = _strict(data, codec)
        if text is not None and not (utf8 is not None and _PRIVATE_USE.search(text)):
            return text, codec
    if utf8 is not None:
        return utf8, "utf-8"
    guess = _detect(data)
    if codec is not None and codec != "ascii":
        if codec in _SINGLE_BYTE:
            if guess in _CJK and (text := _strict(data, guess)) is not None:
                return text, guess
            text = _strict(data, codec)
        else:
            text = _lossy_ok(data, codec)
        if text is not None:
            return text, codec
    if guess is not None:
        text = _lossy_ok(data, guess)
        if text is not None:
            return text, guess
    return data.decode("utf-8", errors="replace"), "utf-8"
