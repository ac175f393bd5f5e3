"""Non-complaints: empty texts, spam, praise without a problem, robocall voicemails.

Only judged while a message is still actionable (connectors may already have
flagged auto-replies, bounces and newsletters) and never for courier events (the
matcher decides whether a scan matters).
"""

from __future__ import annotations

import re

from hub.models import Channel, ComplaintMessage, NonActionable
from hub.understand.settings import UnderstandSettings
from hub.understand.taxonomy import Taxonomy, TextView, load_taxonomy
from hub.understand.textutil import MAX_CHARS, URL_RE

__all__ = ["judge", "judge_message"]

_MENTION_RE = re.compile(r"(?<![\w.])@[\w.\-]+(?:@[\w.\-]+)?")
_HASHTAG_RE = re.compile(r"#\w+")
_NO_CONTENT_RE = re.compile(r"[\W_]+", re.UNICODE)


def _content(text: str, *, links: bool = True) -> str:
    """Text without mentions, punctuation and spaces (and links unless ``links``)."""
    text = _MENTION_RE.sub(" ", text)
    if not links:
        text = URL_RE.sub(" ", text)
    return _NO_CONTENT_RE.sub("", text)


def judge(
    text: str, taxonomy: Taxonomy, *, channel: Channel, has_numbers: bool = False
) -> NonActionable | None:
    """Why ``text`` is not a complaint, or None when it may be one."""
    if not _content(text):
        return NonActionable.empty
    view = TextView.of(text)
    complaint = taxonomy.noise.get("complaint")
    problem = complaint.score(view) if complaint else 0.0

    def score(kind: str) -> float:
        lexicon = taxonomy.noise.get(kind)
        return lexicon.score(view) if lexicon else 0.0

    def reaches(kind: str, value: float) -> bool:
        return value >= taxonomy.noise_thresholds.get(kind, 1.0)

    if channel == Channel.voicemail and not has_numbers:
        robocall = score("robocall")
        if reaches("robocall", robocall) and robocall > problem:
            return NonActionable.robocall
    spam = score("spam")
    if not has_numbers and reaches("spam", spam) and spam > problem:
        return NonActionable.spam
    if _links_only(text):
        return NonActionable.spam
    if reaches("praise", score("praise")) and problem == 0:
        return NonActionable.praise
    return None


def _links_only(text: str) -> bool:
    """Links with (almost) nothing else said."""
    if not URL_RE.search(text):
        return False
    rest = _content(_HASHTAG_RE.sub(" ", text), links=False)
    return len(rest) < 6


def judge_message(msg: ComplaintMessage, settings: UnderstandSettings | None = None) -> ComplaintMessage:
    """Mark a message not actionable when it is noise."""
    if not msg.actionable or msg.channel == Channel.courier:
        return msg
    settings = settings or UnderstandSettings()
    text = "\n".join(p for p in (msg.subject or "", msg.text or "") if p)[:MAX_CHARS]
    if not _content(text):
        if not msg.attachments:
            msg.mark_not_actionable(NonActionable.empty)
        return msg
    taxonomy = load_taxonomy(settings.taxonomy_file())
    reason = judge(text, taxonomy, channel=msg.channel, has_numbers=bool(msg.order_nos or msg.tracking_nos))
    if reason is not None:
        msg.mark_not_actionable(reason)
    return msg
