"""Generated e-mails for IMAP tests and benchmarks: distinct customers, order numbers, charsets."""

from __future__ import annotations

import email.policy
import email.utils
from email.header import Header
from email.mime.text import MIMEText

__all__ = ["complaint", "message", "message_8bit"]

_PROBLEMS = [
    "arrived broken, the box was crushed",
    "never arrived although tracking says delivered",
    "is the wrong colour, I ordered blue",
    "was charged twice on my card",
    "stopped working after two days",
]


def message(
    subject: str,
    body: str,
    *,
    charset: str = "utf-8",
    sender: str = "carol@example.com",
    name: str | None = None,
    msg_id: str | None = None,
) -> bytes:
    """An RFC 5322 message with CRLF line ends; the subject RFC 2047-encoded, the body in ``charset``."""
    m = MIMEText(body, "plain", charset)
    m["Subject"] = Header(subject, charset).encode()
    m["From"] = email.utils.formataddr((str(Header(name, charset).encode()) if name else "", sender))
    m["To"] = "service@shop.example.com"
    m["Date"] = email.utils.formatdate(localtime=True)
    m["Message-ID"] = f"<{msg_id}>" if msg_id else email.utils.make_msgid(domain="mail.example.com")
    return m.as_bytes(policy=email.policy.SMTP)


def message_8bit(subject: str, body: str, *, charset: str, sender: str = "dan@example.cn") -> bytes:
    """A message with an unencoded 8-bit body in ``charset`` (as many CJK mailers send)."""
    head = (
        f"From: {sender}\r\nTo: service@shop.example.com\r\nSubject: {Header(subject, charset).encode()}\r\n"
        f"Date: {email.utils.formatdate(localtime=True)}\r\n"
        f"Message-ID: {email.utils.make_msgid(domain='mail.example.cn')}\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset={charset}\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    )
    return head.encode("ascii") + body.replace("\n", "\r\n").encode(charset) + b"\r\n"


def complaint(n: int, *, tag: str = "t") -> bytes:
    """Complaint number ``n`` from its own customer about its own order (Message-ID ``<tag-n@...>``)."""
    order = f"SO-{700000 + n}"
    text = (
        f"Hello,\n\nmy order {order} {_PROBLEMS[n % len(_PROBLEMS)]}. "
        f"Please send a replacement or refund me.\n\nRegards,\nCustomer {n}\n"
    )
    return message(
        f"Problem with order {order}",
        text,
        sender=f"customer{n}@example.net",
        name=f"Customer {n}",
        msg_id=f"{tag}-{n}@mail.example.com",
    )
