"""Walk a MIME tree: pick the body text, list attachments, collect returned messages."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.policy import compat32

from connectors.email.charsets import decode_bytes
from connectors.email.headers import decode_header_value
from connectors.email.html import MAX_HTML_CHARS, html_to_text
from connectors.email.quotes import clean_text
from hub.models import Attachment

__all__ = ["Body", "MimeResult", "walk"]

_MAX_DEPTH = 30
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)
_LOOKS_HTML = re.compile(r"^\s*(?:<!doctype html|<html|<body|<div|<p[ >]|<table)", re.I)
_STUB = re.compile(
    r"html|view (?:it|this)|web ?browser|不支持|不支援|超文本|请使用|請使用|this is a multi-part", re.I
)
_STUB_MAX = 200  # a placeholder plain part is short
_WORD = re.compile(r"\w")


@dataclass
class Body:
    """One body text part, already converted to plain text (not yet de-quoted)."""

    text: str
    html: bool
    charset: str
    declared: str | None
    truncated: bool = False


@dataclass
class MimeResult:
    bodies: list[Body] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    returned: list[Message] = field(default_factory=list)  # embedded or returned messages (headers at least)
    delivery_status: list[str] = field(default_factory=list)  # raw text of message/delivery-status parts


def _payload(part: Message) -> bytes:
    """Decoded bytes of a leaf part; never raises (falls back to the raw payload)."""
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        return data
    raw = part.get_payload()
    if isinstance(raw, str):
        return raw.encode("utf-8", "surrogateescape")
    return b""


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not name:
        return None
    return decode_header_value(name) or None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _attachment(part: Message, content_type: str, data: bytes) -> Attachment:
    return Attachment(
        filename=_filename(part),
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _text_body(part: Message, content_type: str) -> Body:
    data = _payload(part)
    declared = _charset(part)
    is_html = content_type == "text/html"
    if is_html and declared is None:
        meta = _META_CHARSET.search(data[:4096])
        declared = meta.group(1).decode("ascii") if meta else None
    text, used = decode_bytes(data, declared)
    if not is_html and _LOOKS_HTML.match(text[:200]):
        is_html = True
    if not is_html:
        return Body(text, False, used, declared)
    return Body(html_to_text(text), True, used, declared, truncated=len(text) > MAX_HTML_CHARS)


def _useful(body: Body) -> bool:
    text = clean_text(body.text)
    if len(_WORD.findall(text[:50])) < 3:
        return False
    return not (not body.html and len(text) < _STUB_MAX and _STUB.search(text))


def _choose(options: list[list[Body]]) -> list[Body]:
    """multipart/alternative: a useful text/plain first, else HTML, else anything with text."""
    plain = [o for o in options if o and not any(b.html for b in o) and all(_useful(b) for b in o)]
    if plain:
        return plain[0]
    html = [o for o in options if o and any(b.html for b in o) and any(_useful(b) for b in o)]
    if html:
        return html[-1]
    return next((o for o in options if any(b.text.strip() for b in o)), [])


def _message_bytes(inner: Message) -> bytes:
    try:
        return inner.as_bytes()
    except Exception:
        return inner.as_string().encode("utf-8", "surrogateescape")


def _walk(part: Message, out: MimeResult, depth: int, in_report: bool) -> list[Body]:
    ctype = part.get_content_type()
    if depth > _MAX_DEPTH:
        return []
    if ctype == "message/delivery-status":
        raw = part.get_payload()
        blocks = raw if isinstance(raw, list) else [raw]
        out.delivery_status.append("\n\n".join(str(b) for b in blocks))
        return []
    if ctype.startswith("message/"):  # rfc822, global, rfc822-headers: a (returned) message
        inner = part.get_payload()
        inner_msg = inner[0] if isinstance(inner, list) and inner else None
        if isinstance(inner_msg, Message):
            out.returned.append(inner_msg)
            if not in_report:
                out.attachments.append(_attachment(part, ctype, _message_bytes(inner_msg)))
        elif not in_report:
            out.attachments.append(_attachment(part, ctype, _payload(part)))
        return []
    if ctype == "text/rfc822-headers":
        out.returned.append(BytesHeaderParser(policy=compat32).parsebytes(_payload(part)))
        return []
    if part.is_multipart():
        children = [c for c in part.get_payload() if isinstance(c, Message)]
        if ctype == "multipart/alternative":
            return _choose([_walk(child, out, depth + 1, in_report) for child in children])
        if ctype == "multipart/report":
            notice = _walk(children[0], out, depth + 1, True) if children else []
            for child in children[1:]:
                _walk(child, out, depth + 1, True)
            return notice
        bodies: list[Body] = []
        for child in children:
            bodies.extend(_walk(child, out, depth + 1, in_report))
        return bodies
    is_attachment = _disposition(part) == "attachment" or _filename(part) is not None
    if ctype in ("text/plain", "text/html") and not is_attachment:
        return [_text_body(part, ctype)]
    if ctype.startswith("multipart/"):  # declared multipart but unparseable (no boundary)
        return [_text_body(part, "text/plain")]
    if is_attachment or not ctype.startswith("text/"):
        out.attachments.append(_attachment(part, ctype, _payload(part)))
    return []


def walk(msg: Message) -> MimeResult:
    """Collect body texts (in order), attachments and returned/embedded messages of ``msg``."""
    out = MimeResult()
    out.bodies = _walk(msg, out, 0, False)
    return out
