"""E-mail HTML is untrusted: the original HTML body is shown only after nh3 (ammonia) has cleaned it.

Everything else an e-mail says (subject, text, names) is rendered as text by
Jinja2's autoescaping. The cleaned HTML keeps structure and formatting tags;
no scripts, no event handlers, no ``style``, no images or other remote loads,
links only to http(s) and mailto, opened with ``rel="noopener noreferrer
nofollow"``. The page's Content-Security-Policy forbids inline script on top.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

import nh3

__all__ = ["MAX_HTML", "email_html", "sanitise_html"]

MAX_HTML = 200_000

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "ins", "li", "ol", "p", "pre", "q", "s", "small",
    "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan", "scope"}}


def sanitise_html(html: str) -> str:
    """Untrusted HTML reduced to safe formatting (see the module docstring)."""
    return nh3.clean(
        html[:MAX_HTML],
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def email_html(payload: bytes) -> str | None:
    """The sanitised HTML body of a raw e-mail, or None when it has no HTML part (or cannot be read)."""
    try:
        msg = email.message_from_bytes(payload, policy=email.policy.default)
    except Exception:
        return None
    if not isinstance(msg, EmailMessage):
        return None
    try:
        part = msg.get_body(preferencelist=("html",))
    except Exception:
        return None
    if part is None or part.get_content_type() != "text/html":
        return None
    try:
        content = part.get_content()
    except Exception:  # unknown or lying charset: best effort
        raw = part.get_payload(decode=True)
        content = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
    if not isinstance(content, str) or not content.strip():
        return None
    cleaned = sanitise_html(content).strip()
    return cleaned or None
