"""One raw e-mail → :class:`ComplaintMessage` (pure: no I/O, no clock)."""

from __future__ import annotations

import email
import re
from email.message import Message
from email.policy import compat32
from typing import Any

from connectors.email.autoreply import bounce_details, classify
from connectors.email.capture import check_message
from connectors.email.charsets import normalise_charset
from connectors.email.headers import (
    addresses,
    decode_header_value,
    header,
    header_all,
    message_ids,
    parse_date,
)
from connectors.email.mime import MimeResult, walk
from connectors.email.quotes import clean_text, split_signature, strip_quotes
from hub.errors import ParseError
from hub.models import Channel, ComplaintMessage, Identity, IdentityKind, NonActionable, RawItem

__all__ = ["parse_email"]

_FORWARD = re.compile(r"^\s*(?:fwd?|转发|轉寄|转寄|轉發)\s*[:：]", re.I)
_ROLE_NAME = re.compile(
    r"mailer-daemon|postmaster|mail delivery|delivery (?:system|subsystem)|no-?reply|do-?not-?reply|"
    r"newsletter|notification|客服|系统|系統|通知",
    re.I,
)
_HAS_LETTER = re.compile(r"[^\W\d_]")


def _person_name(name: str, addr: str | None) -> str | None:
    """The display name, if it looks like a person's name rather than an address or role."""
    name = re.sub(r"\s+", " ", name).strip("\"' ")
    if not name or len(name) > 64 or "@" in name or not _HAS_LETTER.search(name):
        return None
    if addr and name.lower() in {addr.lower(), addr.split("@", 1)[0].lower()}:
        return None
    return None if _ROLE_NAME.search(name) else name


def _identities(msg: Message) -> tuple[list[Identity], str | None, dict[str, Any]]:
    identities: list[Identity] = []
    extra: dict[str, Any] = {}
    name: str | None = None
    senders = addresses(header_all(msg, "From")) or addresses(header_all(msg, "Sender"))
    if senders:
        display, addr = senders[0]
        extra["from"] = addr
        identities.append(Identity(kind=IdentityKind.email, value=addr))
        name = _person_name(display, addr)
        if name:
            identities.append(Identity(kind=IdentityKind.name, value=name))
    for display, addr in addresses(header_all(msg, "Reply-To")):
        if addr != extra.get("from"):
            extra.setdefault("reply_to", []).append(addr)
            identities.append(Identity(kind=IdentityKind.email, value=addr))
            if name is None:
                name = _person_name(display, addr)
    for field in ("To", "Cc"):
        found = [addr for _, addr in addresses(header_all(msg, field))]
        if found:
            extra[field.lower()] = found
    unique = list(dict.fromkeys(identities))
    return unique, name, extra


def _body(mime: MimeResult, *, forward: bool) -> tuple[str, str, dict[str, Any]]:
    """(new text, signature, extra) from the chosen body parts."""
    extra: dict[str, Any] = {}
    bodies = [b for b in mime.bodies if b.text.strip()]
    if not bodies:
        return "", "", extra
    extra["html_only"] = all(b.html for b in bodies)
    extra["charset"] = bodies[0].charset
    if any(b.truncated for b in bodies):
        extra["html_truncated"] = True
    declared = bodies[0].declared
    if declared and normalise_charset(declared) != bodies[0].charset:
        extra["declared_charset"] = declared.lower()
    text = strip_quotes(clean_text("\n\n".join(b.text for b in bodies)), forward=forward)
    text, signature = split_signature(text)
    return text, signature, extra


def _parse(raw: RawItem) -> ComplaintMessage:
    check_message(raw.payload)
    payload = raw.payload.lstrip(b"\r\n") if raw.payload[:1] in (b"\r", b"\n") else raw.payload
    msg = email.message_from_bytes(payload, policy=compat32)
    own_id = raw.native_id
    subject = decode_header_value(header(msg, "Subject"))
    mime = walk(msg)
    identities, name, extra = _identities(msg)
    text, signature, body_extra = _body(mime, forward=bool(_FORWARD.match(subject)))
    extra.update(body_extra)
    if signature:
        extra["signature"] = signature
    in_reply_to = [f"email:{i}" for i in message_ids(header_all(msg, "In-Reply-To"))]
    parents = in_reply_to + [f"email:{i}" for i in message_ids(header_all(msg, "References"))]
    verdict = classify(msg, mime, sender=extra.get("from"), subject=subject)
    if verdict is not None:
        extra["non_actionable_evidence"] = verdict.evidence
    if verdict is not None and verdict.reason is NonActionable.bounce:
        bounce = bounce_details(mime, own_id)
        if bounce.message_id:
            parents.insert(0, f"email:{bounce.message_id}")
            extra["bounced_message_id"] = bounce.message_id
        if bounce.subject:
            extra["bounced_subject"] = bounce.subject
            extra["related_text"] = bounce.subject  # the core reads numbers from it
        if bounce.references:
            extra["bounced_references"] = bounce.references
        if bounce.recipients:
            extra["bounced_recipients"] = bounce.recipients
    thread_key = f"email:{own_id}"
    message = ComplaintMessage(
        connector="email",
        instance=raw.instance,
        native_id=raw.native_id,
        channel=Channel.email,
        occurred_at=parse_date(header(msg, "Date")) or raw.occurred_at or raw.received_at,
        subject=subject or None,
        text=text,
        customer_name=name,
        identities=identities,
        thread_key=thread_key,
        parent_keys=[p for p in dict.fromkeys(parents) if p != thread_key],
        reply_to_key=in_reply_to[0] if in_reply_to else None,
        attachments=mime.attachments,
        extra=extra,
    )
    if verdict is not None:
        message.mark_not_actionable(verdict.reason)
    return message


def parse_email(raw: RawItem) -> ComplaintMessage:
    """Parse one raw e-mail; any failure becomes a :class:`ParseError` with a readable reason."""
    try:
        return _parse(raw)
    except ParseError:
        raise
    except Exception as exc:  # wrap everything: the core quarantines on ParseError only
        raise ParseError(f"cannot parse e-mail {raw.native_id!r}: {type(exc).__name__}: {exc}") from exc
