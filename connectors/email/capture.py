"""Captured files → raw messages: one ``.eml`` or an mbox of several."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32

from connectors.email.headers import header, message_id, parse_date
from hub.errors import ParseError
from hub.models import RawItem

__all__ = ["check_message", "native_id", "split_capture", "split_mbox"]

_HEADER_LINE = re.compile(rb"^[A-Za-z0-9][A-Za-z0-9_.-]*[ \t]*:")
_KNOWN_HEADERS = {
    b"from", b"to", b"cc", b"date", b"subject", b"message-id", b"received", b"return-path",
    b"mime-version", b"content-type", b"delivered-to", b"reply-to", b"sender", b"in-reply-to",
    b"references", b"x-mailer", b"content-transfer-encoding",
}  # fmt: skip
_FROM_LINE = re.compile(rb"^From \S*.*\d\d:\d\d", re.M)
_ESCAPED_FROM = re.compile(rb"^>(>*From )", re.M)
_HEAD_LIMIT = 256 * 1024  # the header block is looked for in this prefix only


def check_message(data: bytes) -> None:
    """Raise :class:`ParseError` unless ``data`` starts with an RFC 5322 header block."""
    if not data.strip():
        raise ParseError("empty file")
    head = data.lstrip(b"\r\n")[:_HEAD_LIMIT]
    lines = re.split(rb"\r?\n", head)
    if lines and lines[0].startswith(b"From "):  # an mbox separator line is allowed
        lines = lines[1:]
    names: list[bytes] = []
    for line in lines:
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):
            if not names:
                break
            continue
        if not _HEADER_LINE.match(line):
            break
        names.append(line.split(b":", 1)[0].strip().lower())
    if not names:
        raise ParseError("not an RFC 5322 message: no header lines")
    if not _KNOWN_HEADERS.intersection(names):
        raise ParseError("not an RFC 5322 message: none of From, Date, Subject, Message-ID ... in its header")


def native_id(data: bytes) -> tuple[str, datetime | None]:
    """``(Message-ID without brackets or "sha256:<hex>", Date as UTC or None)`` of one message."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(data[:_HEAD_LIMIT])
    ident = message_id(header(headers, "Message-ID"))
    return ident or f"sha256:{hashlib.sha256(data).hexdigest()}", parse_date(header(headers, "Date"))


def _after_blank(data: bytes, pos: int) -> bool:
    before = data[max(0, pos - 3) : pos]
    return pos == 0 or before.endswith((b"\n\n", b"\n\r\n"))


def split_mbox(data: bytes) -> list[bytes]:
    """Split an mbox on its "From " separator lines (at the start or after a blank line),
    un-escaping ">From " body lines. Separator lines are dropped.
    """
    starts = [m.start() for m in _FROM_LINE.finditer(data) if _after_blank(data, m.start())]
    if data.startswith(b"From ") and (not starts or starts[0] != 0):
        starts.insert(0, 0)
    messages: list[bytes] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(data)
        chunk = data[start:end]
        newline = chunk.find(b"\n")
        body = chunk[newline + 1 :] if newline >= 0 else b""
        body = _ESCAPED_FROM.sub(rb"\1", body).rstrip(b"\r\n")
        if body.strip():
            messages.append(body + b"\n")
    return messages


def split_capture(data: bytes, *, instance: str, received_at: datetime, source: str | None) -> list[RawItem]:
    """One ``.eml`` (or mbox) capture → raw items; :class:`ParseError` if it holds no e-mail."""
    check_message(data)
    stripped = data.lstrip(b"\r\n")
    chunks = split_mbox(stripped) if stripped.startswith(b"From ") else [data]
    if not chunks:
        raise ParseError("mbox holds no messages")
    items: list[RawItem] = []
    for chunk in chunks:
        ident, occurred = native_id(chunk)
        items.append(
            RawItem(
                connector="email",
                instance=instance,
                native_id=ident,
                received_at=received_at,
                occurred_at=occurred,
                payload=chunk,
                source=source,
            )
        )
    return items
