"""Comments the ticketing sinks (Zendesk, ERPNext, Odoo ...) write for case events.

Shared by sinks through the core, since a connector never imports another connector.
Each comment ends with a marker line (:func:`event_marker`) so a sink can find its own
comment again after a lost response and never post it twice.
"""

from __future__ import annotations

import html
import re
from typing import Any

from hub.errors import ConnectorError
from hub.sink import Delivery

__all__ = ["describe_change", "event_marker", "status_of", "text_to_html"]

_STATUS = re.compile(r"-> (\d{3})\b")


def event_marker(d: Delivery) -> str:
    """The line that ends every comment the hub writes: finds it again after a lost response."""
    return f"[hub {d.case_id} #{d.sequence} {d.event_id}]"


def _event_message(d: Delivery) -> dict[str, Any] | None:
    """The message a ``case.updated`` event added: the one received when the event occurred."""
    messages = [m for m in d.case.get("messages") or [] if isinstance(m, dict)]
    if not messages:
        return None
    same_time = [m for m in messages if m.get("received_at") and m.get("received_at") == d.occurred_at]
    return same_time[-1] if same_time else messages[-1]


def _change(value: Any) -> str | None:
    """``{"from": a, "to": b}`` (or ``old``/``new``) as ``a → b``; a bare value as itself."""
    if isinstance(value, dict):
        old = value.get("from", value.get("old"))
        new = value.get("to", value.get("new"))
        if old is None and new is None:
            return None
        return f"{old if old is not None else '-'} → {new if new is not None else '-'}"
    if value is None or isinstance(value, bool):
        return None
    return str(value)


def describe_change(d: Delivery) -> str:
    """A plain-text comment for one case event: what changed, the labels now, and the marker."""
    case, data = d.case, d.data or {}
    lines: list[str] = []
    if d.type == "case.created":
        if data.get("split"):
            lines.append(f"Case created by splitting messages off {data.get('from', 'another case')}.")
        else:
            lines.append("Case created.")
    elif d.type == "case.updated":
        if data.get("replay"):
            lines.append("Current state sent again (replay).")
        if data.get("reopened"):
            lines.append("Case reopened by a new message.")
        if "message_id" in data:
            msg = _event_message(d)
            if msg is not None:
                channel = msg.get("channel") or msg.get("connector") or "?"
                lines.append(f"New message via {channel} at {msg.get('received_at') or d.occurred_at}:")
                lines.append(str(msg.get("text") or "").strip() or "(no text)")
        if not lines:
            lines.append("Case updated.")
    elif d.type == "case.merged":
        gone, into = data.get("merged"), data.get("into")
        if into == d.case_id:
            lines.append(f"Case {gone} was merged into this case.")
        else:
            lines.append(f"This case was merged into {into} and is closed.")
    elif d.type == "case.split":
        lines.append(f"Messages split off into the new case {data.get('to')}.")
    elif d.type == "case.sla_breached":
        lines.append(
            f"SLA breached: the case was due at {case.get('sla_due_at') or data.get('due_at') or '?'}."
        )
    else:
        lines.append(f"Case event {d.type}.")
    for key in ("status", "severity", "category"):
        text = _change(data.get(key))
        if text is not None:
            lines.append(f"{key.capitalize()} changed: {text}")
    lines.append("")
    lines.append(
        f"Status: {case.get('status') or '-'} · Category: {case.get('category') or '-'}"
        f" · Severity: {case.get('severity') or '-'}"
    )
    lines.append(event_marker(d))
    return "\n".join(lines)


def text_to_html(text: str) -> str:
    """Plain text as safe HTML (escaped, line breaks kept) for HTML fields and comments."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs) or "<p></p>"


def status_of(exc: ConnectorError) -> int | None:
    """The HTTP status an :class:`~hub.http.HttpClient` error names, if any."""
    m = _STATUS.search(str(exc))
    return int(m.group(1)) if m else None
