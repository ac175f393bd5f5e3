"""Keep only the new text of a message: cut quoted history, split off the signature."""

from __future__ import annotations

import re

__all__ = ["clean_text", "split_signature", "strip_quotes"]

# "On Fri, Aug 14, 2026 at 6:02 AM X <x@y> wrote:", "在 2026-08-06 10:12:05,"X" <x@y> 写道:",
# "X <x@y> 于2026年8月14日周五 06:02写道：", "Le ... a écrit :", "Am ... schrieb ...:"
_ATTRIBUTION_END = re.compile(
    r"(?:\bwrote|写道|寫道|\ba écrit|\bschrieb|\bescribió|\bha scritto|\bschreef|\bnapisał)\s*[:：]\s*$", re.I
)
_ATTRIBUTION_START = re.compile(r"^(?:(?:On|Le|Am|El|Il|Op|W dniu)\b|在|於|于)", re.I)
_SEPARATOR = re.compile(
    r"^[\s*]*-{2,}\s*(?:original message|original|forwarded message|message d'origine|"
    r"ursprüngliche nachricht|mensaje original|原始邮件|原始郵件|原邮件|原郵件|转发邮件|轉寄郵件|邮件原文)"
    r"\s*-{2,}[\s*]*$",
    re.I,
)
_FORWARD_SEPARATOR = re.compile(r"forward|转发|轉寄", re.I)
_HEADER_FROM = re.compile(r"^[\s*>]*(?:from|发件人|發件人|寄件者|寄件人)[\s*]*[:：]", re.I)
_HEADER_SENT = re.compile(
    r"^[\s*>]*(?:sent|date|发送时间|發送時間|寄件日期|日期|时间|時間|发送日期)[\s*]*[:：]", re.I
)
_QUOTED = re.compile(r"^\s*>")
_RULE = re.compile(r"^[\s_\-=*~—]*$")
_SIG_DASHES = re.compile(r"^--\s?$")
_MOBILE = re.compile(
    r"^\s*(?:sent (?:from|with|via)|get outlook for|发自|發自|来自|來自|寄自|从|從|傳送自|通过)\s*"
    r"(?:my\s+|我的\s*)?.{0,30}?"
    r"(?:iphone|ipad|android|mobile|手机|手機|邮箱|郵箱|mail|outlook|samsung|galaxy|huawei|华为|華為|"
    r"小米|荣耀|oppo|vivo|blackberry|proton|windows|企业微信|微信|网易|網易)"
    r".{0,20}$",
    re.I,
)
_HISTORY_LOOKAHEAD = 6  # an Outlook header block: "Sent:" within this many lines of "From:"
_MAX_SIGNATURE_LINES = 25
_INLINE_WS = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_INVISIBLE = re.compile(r"[\u200b-\u200d\u2060\ufeff]")
_BLANKS = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalise newlines, drop invisible characters, collapse spaces and blank lines."""
    text = _INVISIBLE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = [_INLINE_WS.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def _is_attribution(line: str) -> bool:
    line = line.strip()
    if len(line) > 400 or not line.endswith((":", "：")) or not _ATTRIBUTION_END.search(line):
        return False
    return bool(_ATTRIBUTION_START.search(line) or "@" in line or re.search(r"\d", line))


def _has_colon(line: str) -> bool:
    return ":" in line or "：" in line


def _history_start(lines: list[str]) -> tuple[int, bool] | None:
    """Index of the first line of quoted history, and whether it is a forward separator.

    Linear: each line meets a few anchored patterns at most.
    """
    sent = [_has_colon(line) and bool(_HEADER_SENT.match(line)) for line in lines]
    for i, line in enumerate(lines):
        if "--" in line and _SEPARATOR.match(line):
            return i, bool(_FORWARD_SEPARATOR.search(line))
        if _HEADER_FROM.match(line) and any(sent[i + 1 : i + 1 + _HISTORY_LOOKAHEAD]):
            return i, False
        current = line.strip()
        if not current.endswith((":", "：")):
            continue
        previous = lines[i - 1].strip() if i > 0 else ""
        if (
            previous
            and not _ATTRIBUTION_START.search(current)
            and _ATTRIBUTION_START.search(previous)
            and not previous.endswith((":", "："))
            and _is_attribution(f"{previous} {current}")
        ):
            return i - 1, False  # "On <date> <name>" / "wrote:" wrapped over two lines
        if _is_attribution(current):
            return i, False
    return None


def strip_quotes(text: str, *, forward: bool = False) -> str:
    """Remove quoted history: everything from an attribution line ("On ... wrote:",
    "在 ... 写道："), an "Original Message"/"原始邮件" separator or an Outlook
    "From:/Sent:" ("发件人:/发送时间:") block onwards, plus any "> " lines.

    For a forward (``forward=True``) with nothing written above the forwarded
    part, the forwarded text is kept instead: it is what the sender sent us.
    """
    lines = text.split("\n")
    found = _history_start(lines)
    if found is not None:
        start, _ = found
        head = [line for line in lines[:start] if not _QUOTED.match(line)]
        if forward and not any(line.strip() and not _RULE.match(line) for line in head):
            tail = [line for line in lines[start + 1 :] if not _QUOTED.match(line)]
            return clean_text("\n".join(tail))
        lines = head
    else:
        lines = [line for line in lines if not _QUOTED.match(line)]
    while lines and _RULE.match(lines[-1]):
        lines.pop()
    return clean_text("\n".join(lines))


def split_signature(text: str) -> tuple[str, str]:
    """Split ``text`` into (body, signature) at a "-- " line or a "Sent from my iPhone"
    / "发自我的iPhone" / "发自网易邮箱大师" line. Returns ``(text, "")`` when none is found.
    """
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if _SIG_DASHES.match(line):
            rest = lines[i + 1 :]
            if len([r for r in rest if r.strip()]) <= _MAX_SIGNATURE_LINES:
                return clean_text("\n".join(lines[:i])), clean_text("\n".join(rest))
        elif _MOBILE.match(line) and len(line.strip()) <= 60:
            rest = lines[i:]
            if len([r for r in rest if r.strip()]) > _MAX_SIGNATURE_LINES:
                rest = [line]
                body = lines[:i] + lines[i + 1 :]
            else:
                body = lines[:i]
            return clean_text("\n".join(body)), clean_text("\n".join(rest))
    return text, ""
