"""Case matching: find the case a message belongs to, cheapest evidence first.

Cascade (each step can be switched off in ``matching:``):

1. ``thread``      the message replies to / belongs to a stored message
                   (Message-ID / In-Reply-To / References, X conversation,
                   Mastodon in_reply_to);
2. ``order_no``    a case already names one of its order numbers;
3. ``tracking_no`` a case already names one of its tracking numbers;
4. ``customer``    the same customer (identity graph) has a case updated within
                   the window, whose numbers do not contradict the message's,
                   and whose text is similar enough (or it is the only one);
5. ``name``        the same person's name (``hub.names``) on another identity,
                   within a short window, with clearly similar text.

Every decision is explained by a :class:`MatchDecision` stored with the
message (``matched_by``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from rapidfuzz import fuzz
from sqlmodel import Session, col, select

from hub.config import MatchingSettings
from hub.models import Channel, ComplaintMessage, utc
from hub.names import name_key, names_compatible
from hub.tables import CaseRow, MessageKeyRow, MessageRow

__all__ = ["MatchDecision", "Matcher", "keys_of", "normalise_number"]


def normalise_number(value: str) -> str:
    """Canonical form for comparing order and tracking numbers: upper case, no spaces or dashes."""
    return "".join(ch for ch in value.upper() if ch.isalnum())


def keys_of(msg: ComplaintMessage) -> list[tuple[str, str]]:
    """The lookup keys a message is stored under (and can be found by)."""
    keys: list[tuple[str, str]] = []
    if msg.thread_key:
        keys.append(("thread", msg.thread_key))
    keys += [("order", normalise_number(o)) for o in msg.order_nos if normalise_number(o)]
    keys += [("tracking", normalise_number(t)) for t in msg.tracking_nos if normalise_number(t)]
    person = name_key(msg.customer_name) if msg.channel is not Channel.courier else None
    if person:
        keys.append(("name", person))
    return list(dict.fromkeys(keys))


@dataclass
class MatchDecision:
    """Why a message joined a case (or opened one, or none)."""

    by: str  # thread | order_no | tracking_no | customer | new_case | none
    case_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"by": self.by, **({"case_id": self.case_id} if self.case_id else {}), **self.detail}


_RUNS = re.compile(r"[\u4e00-\u9fff]+|[^\W\u4e00-\u9fff]+")


def _bigrams(text: str) -> str:
    """A token string that makes similarity work for Chinese (char bigrams) and English (words)."""
    tokens: list[str] = []
    for run in _RUNS.findall(text.lower()):
        if "\u4e00" <= run[0] <= "\u9fff":
            tokens += ["".join(p) for p in pairwise(run)] or [run]
        else:
            tokens.append(run)
    return " ".join(tokens)


def similarity(a: str, b: str) -> float:
    """0-100 similarity of two texts, language-neutral."""
    ta, tb = _bigrams(a), _bigrams(b)
    if not ta or not tb:
        return 0.0
    return float(fuzz.token_set_ratio(ta, tb))


class Matcher:
    """Runs the cascade against the store within the caller's transaction."""

    def __init__(self, session: Session, settings: MatchingSettings) -> None:
        self.session = session
        self.settings = settings

    def match(self, msg: ComplaintMessage, customer_id: int | None) -> MatchDecision | None:
        """The case ``msg`` belongs to, or None when no step finds one."""
        s = self.settings
        if s.use_thread and msg.parent_keys:
            found = self._by_keys("thread", msg.parent_keys)
            if found:
                return MatchDecision("thread", found[0], {"key": found[1]})
        if s.use_order and msg.order_nos:
            found = self._by_keys("order", [normalise_number(o) for o in msg.order_nos])
            if found:
                return MatchDecision("order_no", found[0], {"key": found[1]})
        if s.use_tracking and msg.tracking_nos:
            found = self._by_keys("tracking", [normalise_number(t) for t in msg.tracking_nos])
            if found:
                return MatchDecision("tracking_no", found[0], {"key": found[1]})
        if msg.channel is Channel.courier:
            return None
        if s.use_customer and customer_id is not None:
            found_case = self._by_customer(msg, customer_id)
            if found_case:
                return found_case
        if s.use_name and msg.customer_name:
            return self._by_name(msg, customer_id)
        return None

    def replies_to_unknown(self, msg: ComplaintMessage) -> bool:
        """True when ``msg`` directly answers a message we never stored (the shop's own reply)."""
        if not msg.reply_to_key:
            return False
        found = self.session.exec(
            select(MessageKeyRow.id)
            .where(MessageKeyRow.kind == "thread", MessageKeyRow.value == msg.reply_to_key)
            .limit(1)
        ).first()
        return found is None

    def case_for_keys(self, kind: str, values: Sequence[str]) -> tuple[int, str] | None:
        """The most recently active case holding any of these keys (and the key), or None."""
        return self._by_keys(kind, values)

    def _by_keys(self, kind: str, values: Sequence[str]) -> tuple[int, str] | None:
        """The most recently active case holding any of the keys, with the key that matched."""
        rows = self.session.exec(
            select(MessageRow.case_id, MessageKeyRow.value, CaseRow.last_message_at)
            .join(MessageRow, col(MessageRow.id) == MessageKeyRow.message_id)
            .join(CaseRow, col(CaseRow.id) == MessageRow.case_id)
            .where(MessageKeyRow.kind == kind, col(MessageKeyRow.value).in_(list(values)))
            .order_by(col(CaseRow.last_message_at).desc())
            .limit(1)
        ).all()
        if not rows:
            return None
        case_id, value, _ = rows[0]
        assert case_id is not None
        return case_id, value

    def _by_customer(self, msg: ComplaintMessage, customer_id: int) -> MatchDecision | None:
        since = utc(msg.occurred_at) - self.settings.customer_window
        cases = self.session.exec(
            select(CaseRow.id)
            .where(CaseRow.customer_id == customer_id, col(CaseRow.last_message_at) >= since)
            .order_by(col(CaseRow.last_message_at).desc())
            .limit(self.settings.max_customer_candidates)
        ).all()
        if not cases:
            return None
        candidates = self._score(msg, [c for c in cases if c is not None])
        if not candidates:
            return None
        best = max(candidates, key=lambda c: c["score"])
        detail = {"score": best["score"], "candidates": candidates[:5]}
        if best["score"] >= self.settings.similarity_threshold:
            return MatchDecision("customer", best["case_id"], detail)
        if len(candidates) == 1 and not (msg.order_nos or msg.tracking_nos):
            return MatchDecision("customer", best["case_id"], {**detail, "reason": "only recent case"})
        return None

    def _by_name(self, msg: ComplaintMessage, customer_id: int | None) -> MatchDecision | None:
        """Another identity of the same-named person, recently, about the same thing."""
        key = name_key(msg.customer_name)
        if key is None:
            return None
        since = utc(msg.occurred_at) - self.settings.name_window
        rows = self.session.exec(
            select(MessageRow)
            .join(MessageKeyRow, col(MessageKeyRow.message_id) == MessageRow.id)
            .where(
                MessageKeyRow.kind == "name",
                MessageKeyRow.value == key,
                col(MessageRow.case_id).is_not(None),
                col(MessageRow.occurred_at) >= since,
            )
            .order_by(col(MessageRow.occurred_at).desc())
            .limit(self.settings.max_customer_candidates)
        ).all()
        case_ids = list(
            dict.fromkeys(
                m.case_id
                for m in rows
                if m.case_id is not None
                and (customer_id is None or m.customer_id != customer_id)
                and names_compatible(msg.customer_name, (m.data or {}).get("customer_name"))
            )
        )
        if not case_ids:
            return None
        scored = self._score(msg, case_ids)
        if not scored:
            return None
        best = max(scored, key=lambda c: c["score"])
        if best["score"] < self.settings.name_similarity_threshold:
            return None
        return MatchDecision(
            "name", best["case_id"], {"key": key, "score": best["score"], "candidates": scored[:5]}
        )

    def _score(self, msg: ComplaintMessage, case_ids: list[int]) -> list[dict[str, Any]]:
        """Text similarity of ``msg`` to each case whose order/tracking numbers do not contradict it."""
        numbers, texts = self._case_evidence(case_ids)
        mine = {normalise_number(o) for o in msg.order_nos} | {normalise_number(t) for t in msg.tracking_nos}
        scored: list[dict[str, Any]] = []
        for case_id in case_ids:
            theirs = numbers.get(case_id, set())
            if mine and theirs and not (mine & theirs):
                continue  # different orders or parcels: a different problem
            score = max((similarity(msg.text, t) for t in texts.get(case_id, [])), default=0.0)
            scored.append({"case_id": case_id, "score": round(score, 1)})
        return scored

    def _case_evidence(self, case_ids: list[int]) -> tuple[dict[int, set[str]], dict[int, list[str]]]:
        """Order/tracking numbers and customer texts of the candidate cases, in two queries."""
        numbers: dict[int, set[str]] = {}
        # filter the key kind in Python: with `kind IN (...)` in SQL a planner without statistics
        # starts from the (kind, value) index and reads every order key (benchmarks/match_scaling.py)
        for case_id, kind, value in self.session.exec(
            select(MessageRow.case_id, MessageKeyRow.kind, MessageKeyRow.value)
            .join(MessageRow, col(MessageRow.id) == MessageKeyRow.message_id)
            .where(col(MessageRow.case_id).in_(case_ids))
        ).all():
            assert case_id is not None
            if kind in ("order", "tracking"):
                numbers.setdefault(case_id, set()).add(value)
        texts: dict[int, list[str]] = {}
        for case_id, subject, text in self.session.exec(
            select(MessageRow.case_id, MessageRow.subject, MessageRow.text).where(
                col(MessageRow.case_id).in_(case_ids), MessageRow.channel != Channel.courier.value
            )
        ).all():
            assert case_id is not None
            texts.setdefault(case_id, []).append(f"{subject or ''} {text}")
        return numbers, texts
