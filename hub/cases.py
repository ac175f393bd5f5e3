"""Case service: open a case, append a message, keep labels and SLA, record events.

Every change appends a :class:`~hub.tables.CaseEventRow` with the next per-case
sequence number and writes one outbox row per configured sink, in the caller's
transaction (the transactional outbox).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from hub.config import HubConfig
from hub.errors import HubError
from hub.models import CaseStatus, Channel, Severity, utc
from hub.tables import CaseEventRow, CaseRow, CaseTransitionRow, MessageRow, OutboxRow

__all__ = ["CaseService", "public_id"]

#: a customer's third contact about one problem makes the case severe
REPEAT_CONTACT_SEVERE = 3
_FIRST_MESSAGE_WEIGHT = 1.5


def public_id(case_id: int) -> str:
    return f"C-{case_id:06d}"


class CaseService:
    def __init__(self, session: Session, config: HubConfig) -> None:
        self.session = session
        self.config = config

    def open(self, msg: MessageRow, *, customer_id: int | None, detail: dict[str, Any]) -> CaseRow:
        """Open a case for ``msg`` (its first message)."""
        at = utc(msg.occurred_at)
        case = CaseRow(
            status=CaseStatus.new.value,
            customer_id=customer_id,
            created_at=at,
            updated_at=at,
            last_message_at=at,
            category_votes={},
            severity_reasons=[],
        )
        self.session.add(case)
        self.session.flush()
        assert case.id is not None
        self._attach(case, msg, {"by": "new_case", **detail}, first=True)
        self.record(case, "case.created", at, {"message_id": msg.id})
        return case

    def append(self, case: CaseRow, msg: MessageRow, matched_by: dict[str, Any]) -> None:
        """Add ``msg`` to ``case``; reopen a closed case within the reopen window."""
        at = utc(msg.occurred_at)
        data: dict[str, Any] = {"message_id": msg.id, "matched_by": matched_by.get("by")}
        if case.status == CaseStatus.closed.value:
            case.status = CaseStatus.new.value
            case.closed_at = None
            data["reopened"] = True
            self.session.add(
                CaseTransitionRow(
                    case_id=case.id or 0,
                    from_status=CaseStatus.closed.value,
                    to_status=CaseStatus.new.value,
                    actor="hub",
                    at=at,
                    comment=f"reopened by a new message ({matched_by.get('by')})",
                )
            )
        self._attach(case, msg, matched_by, first=False)
        case.updated_at = max(utc(case.updated_at), at)
        self.record(case, "case.updated", at, data)

    def _attach(self, case: CaseRow, msg: MessageRow, matched_by: dict[str, Any], *, first: bool) -> None:
        msg.case_id = case.id
        msg.matched_by = matched_by
        self._absorb(case, msg, first=first)
        self.session.add(msg)

    def _absorb(self, case: CaseRow, msg: MessageRow, *, first: bool) -> None:
        """Fold one message into the case's labels: category votes, severity reasons, SLA."""
        at = utc(msg.occurred_at)
        case.last_message_at = max(utc(case.last_message_at), at)
        votes = dict(case.category_votes or {})
        if msg.category:
            weight = _FIRST_MESSAGE_WEIGHT if first else 1.0
            if msg.channel == Channel.courier.value:
                weight = 0.5
            votes[msg.category] = votes.get(msg.category, 0.0) + weight
        case.category_votes = votes
        if votes:
            case.category = max(votes, key=lambda k: (votes[k], k == case.category))
        reasons = list(case.severity_reasons or [])
        # a customer writing again counts as a repeat contact; answering the shop's reply is dialogue
        if msg.channel != Channel.courier.value and not (msg.matched_by or {}).get("answers_shop"):
            case.contact_count += 1
            if case.contact_count >= REPEAT_CONTACT_SEVERE and "repeat:contact" not in reasons:
                reasons.append("repeat:contact")
        if msg.severity == Severity.severe.value:
            for reason in (msg.data or {}).get("severity_reasons") or ["message"]:
                if reason not in reasons:
                    reasons.append(reason)
        case.severity_reasons = reasons
        case.severity = Severity.severe.value if reasons else Severity.general.value
        hours = self.config.sla.due_hours(case.category, case.severity)
        case.sla_due_at = utc(case.created_at) + timedelta(hours=hours)
        self.session.add(case)

    def recompute(self, case: CaseRow) -> None:
        """Rebuild a case's labels from its messages (after a merge or split)."""
        msgs = self.messages(case.id or 0)
        case.category_votes, case.severity_reasons, case.contact_count = {}, [], 0
        if msgs:
            case.created_at = min(utc(case.created_at), utc(msgs[0].occurred_at))
            case.last_message_at = utc(msgs[0].occurred_at)
        for i, msg in enumerate(msgs):
            self._absorb(case, msg, first=i == 0)

    def merge(self, keep: CaseRow, gone: CaseRow, *, actor: str, at: datetime) -> int:
        """Move every message of ``gone`` into ``keep``, close ``gone`` as merged; return the count moved."""
        if keep.id == gone.id:
            msg = f"cannot merge {public_id(keep.id or 0)} into itself"
            raise HubError(msg)
        if gone.merged_into_id is not None:
            msg = f"{public_id(gone.id or 0)} was already merged into {public_id(gone.merged_into_id)}"
            raise HubError(msg)
        moved = self.messages(gone.id or 0)
        for m in moved:
            previous = (m.matched_by or {}).get("by")
            m.case_id = keep.id
            m.matched_by = {
                **(m.matched_by or {}),
                "by": "merge",
                "merged_from": gone.id,
                "previous": previous,
            }
            self.session.add(m)
        self.session.flush()
        self.recompute(keep)
        keep.updated_at = at
        gone.status, gone.closed_at, gone.merged_into_id, gone.updated_at = (
            CaseStatus.closed.value,
            at,
            keep.id,
            at,
        )
        data = {
            "merged": public_id(gone.id or 0),
            "into": public_id(keep.id or 0),
            "messages": [m.id for m in moved],
        }
        self.record(keep, "case.merged", at, data, actor=actor)
        self.record(gone, "case.merged", at, data, actor=actor)
        return len(moved)

    def split(self, case: CaseRow, message_ids: list[int], *, actor: str, at: datetime) -> CaseRow:
        """Move the given messages of ``case`` into a new case, linked to the old one."""
        msgs = self.messages(case.id or 0)
        chosen = [m for m in msgs if m.id in set(message_ids)]
        unknown = sorted(set(message_ids) - {m.id for m in chosen})
        if unknown:
            msg = f"messages {unknown} are not in {public_id(case.id or 0)}"
            raise HubError(msg)
        if len(chosen) == len(msgs):
            msg = "a split must leave at least one message in the original case"
            raise HubError(msg)
        first = chosen[0]
        new = CaseRow(
            status=CaseStatus.new.value,
            customer_id=first.customer_id or case.customer_id,
            created_at=utc(first.occurred_at),
            updated_at=at,
            last_message_at=utc(first.occurred_at),
            split_from_id=case.id,
        )
        self.session.add(new)
        self.session.flush()
        for m in chosen:
            previous = (m.matched_by or {}).get("by")
            m.case_id = new.id
            m.matched_by = {"by": "split", "split_from": case.id, "previous": previous}
            self.session.add(m)
        self.session.flush()
        self.recompute(new)
        self.recompute(case)
        case.updated_at = at
        data = {"from": public_id(case.id or 0), "to": public_id(new.id or 0), "messages": message_ids}
        self.record(new, "case.created", at, {**data, "split": True}, actor=actor)
        self.record(case, "case.split", at, data, actor=actor)
        return new

    def record(
        self, case: CaseRow, type_: str, at: datetime, data: dict[str, Any], actor: str = "hub"
    ) -> None:
        """Append a case event and its outbox rows (one per sink)."""
        assert case.id is not None
        case.event_seq += 1
        self.session.add(
            CaseEventRow(
                case_id=case.id, sequence=case.event_seq, type=type_, occurred_at=at, actor=actor, data=data
            )
        )
        event_id = f"evt_{uuid.uuid4().hex}"
        for sink in self.config.sinks:
            self.session.add(
                OutboxRow(
                    sink=sink.name,
                    case_id=case.id,
                    event_id=event_id,
                    type=type_,
                    sequence=case.event_seq,
                    created_at=at,
                )
            )
        self.session.add(case)

    def messages(self, case_id: int) -> list[MessageRow]:
        return list(
            self.session.exec(
                select(MessageRow)
                .where(MessageRow.case_id == case_id)
                .order_by(col(MessageRow.occurred_at), col(MessageRow.id))
            ).all()
        )
