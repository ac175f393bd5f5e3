"""Header helpers: raw access, RFC 2047 decoding, addresses, message ids, dates."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from connectors.email.charsets import decode_bytes

__all__ = [
    "addresses",
    "decode_header_value",
    "header",
    "header_all",
    "message_id",
    "message_ids",
    "parse_date",
]

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_SPACE = re.compile(r"\s+")
_ANGLE_ID = re.compile(r"<([^<>]*)>")
_BARE_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


def header_all(msg: Message, name: str) -> list[str]:
    """Every raw value of header ``name`` (8-bit bytes kept as surrogate escapes)."""
    wanted = name.lower()
    return [str(value) for key, value in msg.raw_items() if key.lower() == wanted]


def header(msg: Message, name: str) -> str | None:
    """The first raw value of header ``name``, unfolded, or ``None``."""
    values = header_all(msg, name)
    return _FOLD.sub("", values[0]).strip() if values else None


def _raw8(text: str) -> str:
    """Decode raw 8-bit header bytes (surrogate escapes) with charset detection."""
    if not any("\udc80" <= char <= "\udcff" for char in text):
        return text
    return decode_bytes(text.encode("utf-8", "surrogateescape"))[0]


def _word_bytes(encoding: str, payload: str) -> bytes:
    data = payload.encode("ascii", "replace")
    if encoding in "bB":
        data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
        if len(data) % 4 == 1:  # a stray character: drop it rather than fail
            data = data[:-1]
        try:
            return base64.b64decode(data + b"=" * (-len(data) % 4))
        except (binascii.Error, ValueError):
            return b""
    return binascii.a2b_qp(data, header=True)


def decode_header_value(value: str | None) -> str:
    """Decode an RFC 2047 header value (B and Q words, mixed charsets, raw 8-bit) to text.

    Adjacent encoded words in the same charset are joined before decoding, so a
    character split across two words survives; whitespace between words is dropped.
    """
    if not value:
        return ""
    text = _raw8(_FOLD.sub("", value))
    pieces: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    last_end = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            pieces.append(decode_bytes(b"".join(pending), pending_charset)[0])
        pending, pending_charset = [], None

    for match in _ENCODED_WORD.finditer(text):
        gap = text[last_end : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()
        if gap and not (gap.isspace() and last_end > 0):
            flush()
            pieces.append(gap)
        elif charset != pending_charset:
            flush()
        pending_charset = charset
        pending.append(_word_bytes(match.group(2), match.group(3)))
        last_end = match.end()
    flush()
    pieces.append(text[last_end:])
    return _SPACE.sub(" ", "".join(pieces)).strip()


def addresses(values: Iterable[str]) -> list[tuple[str, str]]:
    """``(display name, lower-cased address)`` pairs from raw address headers."""
    result: list[tuple[str, str]] = []
    for raw in values:
        raw = _FOLD.sub("", raw)
        try:
            pairs = getaddresses([raw])
        except Exception:  # malformed header: fall back to a plain scan
            pairs = []
        found = [(name, addr) for name, addr in pairs if "@" in addr]
        if not found:  # malformed, or the whole header RFC 2047-encoded
            decoded = decode_header_value(raw)
            try:
                found = [(name, addr) for name, addr in getaddresses([decoded]) if "@" in addr]
            except Exception:
                found = []
            found = found or [("", addr) for addr in _BARE_ADDRESS.findall(decoded)]
        for name, addr in found:
            result.append((decode_header_value(name).strip("\"' "), _raw8(addr).strip().lower()))
    return result


def message_id(value: str | None) -> str | None:
    """A Message-ID without angle brackets and whitespace, or ``None`` if blank."""
    if not value:
        return None
    match = _ANGLE_ID.search(value)
    ident = _SPACE.sub("", match.group(1) if match else value)
    return _raw8(ident) or None


def message_ids(values: Iterable[str]) -> list[str]:
    """Every id in In-Reply-To/References values, in order, de-duplicated."""
    seen: dict[str, None] = {}
    for value in values:
        value = _FOLD.sub("", value)
        found = _ANGLE_ID.findall(value) or value.split()
        for ident in found:
            ident = _raw8(_SPACE.sub("", ident))
            if ident:
                seen.setdefault(ident, None)
    return list(seen)


def parse_date(value: str | None) -> datetime | None:
    """The Date header as an aware UTC datetime, or ``None`` if missing or unparseable."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(_SPACE.sub(" ", value).strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # "31 Dec 9999 23:00 -0200" is after the last representable UTC time
        return None
