"""Header-based detection of mail that is not a complaint: auto-replies, bounces, bulk mail."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message

from connectors.email.headers import decode_header_value, header, header_all, message_id, message_ids
from connectors.email.mime import MimeResult
from hub.models import NonActionable

__all__ = ["Bounce", "Verdict", "bounce_details", "classify"]

_AUTO_SUBJECT = re.compile(
    r"^\s*(?:\[[^\]]{0,40}\]\s*)?(?:自动回复|自動回覆|自動回复|自动回覆|自動回復|自动答复|自動答覆|假期自动回复|"
    r"auto(?:matic)?[\s_-]?(?:reply|response|answer)|autoreply|auto:|automatische antwort|"
    r"out of (?:the )?office|réponse automatique|respuesta automática|risposta automatica)",
    re.I,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status notification|failure|has failed)|returned mail|"
    r"failure notice|mail delivery failed|delivery failure|退信|系统退信|無法傳遞|无法投递|投递失败",
    re.I,
)
_AUTOREPLY_HEADER = re.compile(
    r"^x-(?:[\w-]*-)?auto-?(?:reply|repl|respond|responder|response)(?:-from)?$", re.I
)
_FALSEY = {"", "no", "false", "0", "off", "none"}
_BOUNCE_SENDERS = {"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"}
_RECIPIENT = re.compile(r"^(?:final|original)-recipient\s*:\s*[^;]*;\s*(\S+)", re.I | re.M)
_INLINE_ID = re.compile(r"^message-id\s*:\s*<([^<>\s]+)>", re.I | re.M)


@dataclass
class Verdict:
    """Why a message is not actionable, and the header evidence an operator can check."""

    reason: NonActionable
    evidence: str


@dataclass
class Bounce:
    """What a bounce says about the message it returns."""

    message_id: str | None = None
    subject: str | None = None
    references: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)


def _value(msg: Message, name: str) -> str | None:
    value = header(msg, name)
    # decoded: raw 8-bit bytes (surrogate escapes) must not leak into the evidence text
    return None if value is None else decode_header_value(value).split(";", 1)[0].strip().lower()


def _is_bounce(msg: Message, mime: MimeResult, sender: str | None, subject: str) -> str | None:
    if msg.get_content_type() == "multipart/report":
        report_type = str(msg.get_param("report-type") or "").lower()
        if report_type == "delivery-status":
            return "Content-Type: multipart/report; report-type=delivery-status"
    local = (sender or "").split("@", 1)[0]
    if local in _BOUNCE_SENDERS:
        has_dsn = bool(mime.delivery_status or mime.returned or header(msg, "X-Failed-Recipients"))
        if has_dsn or _BOUNCE_SUBJECT.search(subject):
            return f"From: {sender} with a delivery report"
    return None


def _auto_reply(msg: Message, subject: str) -> str | None:
    auto = _value(msg, "Auto-Submitted")
    if auto == "auto-replied":
        return "Auto-Submitted: auto-replied"
    for name, raw in msg.raw_items():
        value = decode_header_value(str(raw))
        if _AUTOREPLY_HEADER.match(name) and value.lower() not in _FALSEY:
            return f"{name}: {value}"
    if _value(msg, "Precedence") in {"auto_reply", "auto-reply", "autoreply"}:
        return "Precedence: auto_reply"
    suppress = _value(msg, "X-Auto-Response-Suppress") or ""
    if header(msg, "X-MS-Exchange-Inbox-Rules-Loop") and re.search(r"all|oof|autoreply", suppress):
        return "X-Auto-Response-Suppress with X-MS-Exchange-Inbox-Rules-Loop"
    if _AUTO_SUBJECT.match(subject):
        return f"Subject: {subject[:60]}"
    return None


def classify(msg: Message, mime: MimeResult, *, sender: str | None, subject: str) -> Verdict | None:
    """Decide from headers (and the MIME shape) whether the message is not a complaint.

    Order: bounce; auto-reply (Auto-Submitted: auto-replied, X-*-Autoreply headers,
    Precedence: auto_reply, auto-reply subjects); bulk mail (List-Unsubscribe or
    Precedence: bulk/list → newsletter, Precedence: junk or X-Spam-Flag: YES → spam);
    finally any other Auto-Submitted value except "no" (machine-generated).
    """
    if evidence := _is_bounce(msg, mime, sender, subject):
        return Verdict(NonActionable.bounce, evidence)
    if evidence := _auto_reply(msg, subject):
        return Verdict(NonActionable.auto_reply, evidence)
    precedence = _value(msg, "Precedence")
    if precedence == "junk" or _value(msg, "X-Spam-Flag") == "yes":
        return Verdict(NonActionable.spam, "Precedence: junk" if precedence == "junk" else "X-Spam-Flag: YES")
    if header(msg, "List-Unsubscribe"):
        return Verdict(NonActionable.newsletter, "List-Unsubscribe")
    if precedence in {"bulk", "list"}:
        return Verdict(NonActionable.newsletter, f"Precedence: {precedence}")
    auto = _value(msg, "Auto-Submitted")
    if auto and auto != "no":
        return Verdict(NonActionable.auto_reply, f"Auto-Submitted: {auto}")
    return None


def bounce_details(mime: MimeResult, own_id: str | None) -> Bounce:
    """The returned message's id, subject and references, and the failed recipients."""
    found = Bounce()
    for returned in mime.returned:
        ident = message_id(header(returned, "Message-ID"))
        if ident and ident != own_id:
            found.message_id = ident
            found.subject = decode_header_value(header(returned, "Subject")) or None
            refs = [*header_all(returned, "In-Reply-To"), *header_all(returned, "References")]
            found.references = [r for r in message_ids(refs) if r != ident]
            break
    if found.message_id is None:  # a non-standard bounce quoting the headers inline
        for body in mime.bodies:
            ids = [i for i in _INLINE_ID.findall(body.text) if i != own_id]
            if ids:
                found.message_id = ids[0]
                break
    for status in mime.delivery_status:
        for addr in _RECIPIENT.findall(status):
            addr = addr.strip("<>").lower()
            if addr not in found.recipients:
                found.recipients.append(addr)
    return found
