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
from hub.models import CaseStatus, Channel, Severity, utc
from hub.tables import CaseEventRow, CaseRow, MessageRow, OutboxRow

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
        self._attach(case, msg, matched_by, first=False)
        case.updated_at = max(utc(case.updated_at), at)
        self.record(case, "case.updated", at, data)

    def _attach(self, case: CaseRow, msg: MessageRow, matched_by: dict[str, Any], *, first: bool) -> None:
        msg.case_id = case.id
        msg.matched_by = matched_by
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
        if msg.channel != Channel.courier.value and not matched_by.get("answers_shop"):
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
        self.session.add(msg)

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
