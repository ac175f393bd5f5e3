"""What agents do to a case: move it along the lifecycle, assign, annotate, correct, merge, split.

Lifecycle (firm): ``new`` 受理 → ``investigating`` 调查 → ``contacting`` 沟通 →
``remedy`` 补救 → ``closed`` 记录归档. A case moves forward (skipping steps is
allowed: a case can be closed from any open step); closing needs a resolution
record (measures taken, result, optionally the customer's feedback); a closed
case moves again only by an explicit reopen. Every status change is kept in
``case_transition`` with who and when.

Every action writes a case event through :meth:`hub.cases.CaseService.record`
(``case.updated``, or ``case.merged`` / ``case.split``), so it reaches the
sinks through the outbox in the same transaction, and an audit record.

A correction of category or severity is kept in ``case_correction`` and made
to stick: the corrected category gets a lead in the case's category votes that
later messages do not overturn, a severity corrected to ``severe`` gets a
``corrected:severe`` reason, one corrected to ``general`` has its reasons
cleared (new evidence, such as a third contact, makes it severe again).
Corrections are re-applied after a merge or split rebuilds the labels.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from hub.cases import CaseService, public_id
from hub.config import HubConfig
from hub.errors import HubError
from hub.models import CaseStatus, Category, Severity, utc
from hub.tables import (
    CaseCorrectionRow,
    CaseNoteRow,
    CaseResolutionRow,
    CaseRow,
    CaseTransitionRow,
    CaseWorkRow,
    UserRow,
)
from hub.users import audit

__all__ = [
    "ORDER",
    "ActionRefused",
    "CaseForbidden",
    "CaseNotFound",
    "InvalidAction",
    "Lifecycle",
    "LifecycleError",
    "Resolution",
    "next_statuses",
    "parse_case_id",
]

ORDER = [s.value for s in CaseStatus]  # new, investigating, contacting, remedy, closed
#: the corrected category's lead over every other category's votes
CORRECTION_LEAD = 100.0
MAX_NOTE = 20_000


class LifecycleError(HubError):
    """An action on a case that cannot be done."""


class CaseNotFound(LifecycleError):
    """No such case (HTTP 404)."""


class CaseForbidden(LifecycleError):
    """The case is outside the caller's teams (HTTP 403)."""


class ActionRefused(LifecycleError):
    """The action conflicts with the case's state, e.g. closing a closed case (HTTP 409)."""


class InvalidAction(LifecycleError):
    """The action's input is wrong, e.g. an unknown status or an empty note (HTTP 422)."""


@dataclass(frozen=True)
class Resolution:
    measures: str
    result: str
    customer_feedback: str | None = None


def parse_case_id(value: str | int) -> int:
    """``C-000123``, ``c-123``, ``123`` (or an int) to the numeric id."""
    if isinstance(value, int):
        return value
    digits = value.strip().upper().removeprefix("C-")
    if not digits.isdigit():
        msg = f"{value!r} is not a case id (like C-000123)"
        raise CaseNotFound(msg)
    return int(digits)


def next_statuses(status: str) -> list[str]:
    """Statuses a case in ``status`` may move to with a status change (reopen aside)."""
    if status not in ORDER or status == CaseStatus.closed.value:
        return []
    return ORDER[ORDER.index(status) + 1 :]


class Lifecycle:
    """Actions on cases by one actor, in the caller's transaction."""

    def __init__(
        self,
        session: Session,
        config: HubConfig,
        actor: str,
        *,
        now: datetime | None = None,
        allowed: Callable[[CaseRow], bool] | None = None,
    ) -> None:
        """``allowed``: whether the actor may act on a case (their teams); None: every case."""
        self.session = session
        self.config = config
        self.actor = actor
        self.now = utc(now) if now else datetime.now(UTC)
        self.cases = CaseService(session, config)
        self.allowed = allowed

    # -- lookup ----------------------------------------------------------------------------
    def get(self, case_id: str | int) -> CaseRow:
        cid = parse_case_id(case_id)
        case = self.session.get(CaseRow, cid)
        if case is None:
            msg = f"no case {public_id(cid)}"
            raise CaseNotFound(msg)
        if self.allowed is not None and not self.allowed(case):
            msg = f"{public_id(cid)} is not a case of your teams"
            raise CaseForbidden(msg)
        return case

    def _live(self, case: CaseRow) -> None:
        if case.merged_into_id is not None:
            msg = f"{public_id(case.id or 0)} was merged into {public_id(case.merged_into_id)}; act on that case"
            raise ActionRefused(msg)

    def work(self, case: CaseRow) -> CaseWorkRow:
        assert case.id is not None
        row = self.session.get(CaseWorkRow, case.id)
        if row is None:
            row = CaseWorkRow(case_id=case.id)
            self.session.add(row)
        return row

    def _event(self, case: CaseRow, action: str, data: dict[str, Any]) -> None:
        case.updated_at = max(utc(case.updated_at), self.now)
        self.cases.record(case, "case.updated", self.now, {"action": action, **data}, actor=self.actor)
        audit(self.session, self.actor, f"case.{action}", case_id=case.id, at=self.now, **data)

    # -- status ----------------------------------------------------------------------------
    def change_status(
        self,
        case: CaseRow,
        to: str,
        *,
        comment: str | None = None,
        resolution: Resolution | None = None,
    ) -> CaseTransitionRow:
        """Move ``case`` forward to ``to``; ``closed`` needs a resolution record."""
        self._live(case)
        if to not in ORDER:
            msg = f"unknown status {to!r}; one of {', '.join(ORDER)}"
            raise InvalidAction(msg)
        before = case.status
        if before == CaseStatus.closed.value:
            msg = f"{public_id(case.id or 0)} is closed; reopen it first"
            raise ActionRefused(msg)
        if to not in next_statuses(before):
            msg = f"{public_id(case.id or 0)} cannot go from {before} back to {to}; allowed: " + (
                ", ".join(next_statuses(before)) or "none"
            )
            raise ActionRefused(msg)
        data: dict[str, Any] = {"from": before, "to": to}
        if to == CaseStatus.closed.value:
            if resolution is None or not resolution.measures.strip() or not resolution.result.strip():
                msg = "closing a case needs a resolution record: the measures taken and the result"
                raise InvalidAction(msg)
            handling = (self.now - utc(case.created_at)).total_seconds()
            row = CaseResolutionRow(
                case_id=case.id or 0,
                measures=resolution.measures.strip(),
                result=resolution.result.strip(),
                customer_feedback=(resolution.customer_feedback or "").strip() or None,
                closed_by=self.actor,
                closed_at=self.now,
                handling_seconds=handling,
            )
            self.session.add(row)
            case.closed_at = self.now
            data["handling_seconds"] = round(handling)
        case.status = to
        transition = self._transition(case, before, to, comment)
        self._event(case, "status", data)
        return transition

    def _transition(self, case: CaseRow, before: str, to: str, comment: str | None) -> CaseTransitionRow:
        row = CaseTransitionRow(
            case_id=case.id or 0,
            from_status=before,
            to_status=to,
            actor=self.actor,
            at=self.now,
            comment=(comment or "").strip() or None,
        )
        self.session.add(row)
        return row

    def reopen(self, case: CaseRow, *, reason: str, to: str = CaseStatus.investigating.value) -> None:
        """Reopen a closed case (to ``investigating`` unless told otherwise)."""
        self._live(case)
        if case.status != CaseStatus.closed.value:
            msg = f"{public_id(case.id or 0)} is not closed"
            raise ActionRefused(msg)
        if to not in ORDER[:-1]:
            msg = f"a case is reopened to an open status ({', '.join(ORDER[:-1])}), not {to!r}"
            raise InvalidAction(msg)
        if not reason.strip():
            msg = "reopening a case needs a reason"
            raise InvalidAction(msg)
        case.status, case.closed_at = to, None
        self._transition(case, CaseStatus.closed.value, to, reason)
        self._event(case, "reopen", {"from": CaseStatus.closed.value, "to": to, "reason": reason.strip()})

    # -- assignment and notes --------------------------------------------------------------
    def assign(self, case: CaseRow, assignee: str | None) -> UserRow | None:
        """Give the case to a user (by name), or take it back from everyone with None."""
        self._live(case)
        user = None
        if assignee:
            user = self.session.exec(select(UserRow).where(UserRow.name == assignee)).first()
            if user is None or user.disabled:
                msg = f"no active user {assignee!r}"
                raise InvalidAction(msg)
        work = self.work(case)
        previous = self.session.get(UserRow, work.assignee_id) if work.assignee_id else None
        work.assignee_id = user.id if user else None
        work.assigned_at = self.now if user else None
        self.session.add(work)
        self._event(
            case,
            "assign",
            {"assignee": user.name if user else None, "previous": previous.name if previous else None},
        )
        return user

    def add_note(self, case: CaseRow, text: str) -> CaseNoteRow:
        """An internal note; its text stays in the hub (the event carries only the note id)."""
        self._live(case)
        text = text.strip()
        if not text:
            msg = "a note needs some text"
            raise InvalidAction(msg)
        if len(text) > MAX_NOTE:
            msg = f"a note has at most {MAX_NOTE} characters"
            raise InvalidAction(msg)
        note = CaseNoteRow(case_id=case.id or 0, author=self.actor, created_at=self.now, text=text)
        self.session.add(note)
        self.session.flush()
        self._event(case, "note", {"note_id": note.id})
        return note

    # -- corrections -----------------------------------------------------------------------
    def correct(
        self,
        case: CaseRow,
        *,
        category: str | None = None,
        severity: str | None = None,
        reason: str | None = None,
    ) -> list[CaseCorrectionRow]:
        """Correct the case's category and/or severity; each change is recorded with the old value."""
        self._live(case)
        if category is not None and category not in {c.value for c in Category}:
            msg = f"unknown category {category!r}"
            raise InvalidAction(msg)
        if severity is not None and severity not in {s.value for s in Severity}:
            msg = f"unknown severity {severity!r}"
            raise InvalidAction(msg)
        rows: list[CaseCorrectionRow] = []
        for field, new in (("category", category), ("severity", severity)):
            old = getattr(case, field)
            if new is None or new == old:
                continue
            row = CaseCorrectionRow(
                case_id=case.id or 0,
                field=field,
                old=old,
                new=new,
                actor=self.actor,
                at=self.now,
                reason=(reason or "").strip() or None,
            )
            self.session.add(row)
            rows.append(row)
            _apply(case, field, new)
        if not rows:
            msg = "nothing to correct: give a category or severity different from the current one"
            raise InvalidAction(msg)
        self._due(case)
        self._event(
            case,
            "correct",
            {"changes": [{"field": r.field, "old": r.old, "new": r.new} for r in rows], "reason": reason},
        )
        return rows

    def _due(self, case: CaseRow) -> None:
        hours = self.config.sla.due_hours(case.category, case.severity)
        case.sla_due_at = utc(case.created_at) + timedelta(hours=hours)

    def reapply_corrections(self, case: CaseRow) -> None:
        """Apply the latest correction of each field again (after labels were rebuilt)."""
        rows = self.session.exec(
            select(CaseCorrectionRow)
            .where(CaseCorrectionRow.case_id == case.id)
            .order_by(col(CaseCorrectionRow.at), col(CaseCorrectionRow.id))
        ).all()
        latest = {r.field: r.new for r in rows}
        for field, new in latest.items():
            _apply(case, field, new)
        if latest:
            self._due(case)

    # -- merge and split -------------------------------------------------------------------
    def merge(self, keep: CaseRow, other: CaseRow) -> int:
        """Merge ``other`` into ``keep`` (``case.merged`` on both); returns the messages moved."""
        self._live(keep)
        try:
            moved = self.cases.merge(keep, other, actor=self.actor, at=self.now)
        except HubError as exc:
            raise ActionRefused(str(exc)) from None
        self.reapply_corrections(keep)
        audit(
            self.session,
            self.actor,
            "case.merge",
            case_id=keep.id,
            at=self.now,
            merged=public_id(other.id or 0),
            messages=moved,
        )
        return moved

    def split(self, case: CaseRow, message_ids: list[int]) -> CaseRow:
        """Move some messages of ``case`` into a new case (``case.split``)."""
        self._live(case)
        if not message_ids:
            msg = "choose at least one message to split off"
            raise InvalidAction(msg)
        try:
            new = self.cases.split(case, message_ids, actor=self.actor, at=self.now)
        except HubError as exc:
            raise InvalidAction(str(exc)) from None
        self.reapply_corrections(case)
        audit(
            self.session,
            self.actor,
            "case.split",
            case_id=case.id,
            at=self.now,
            new_case=public_id(new.id or 0),
            messages=message_ids,
        )
        return new


def _apply(case: CaseRow, field: str, new: str) -> None:
    if field == "category":
        votes = dict(case.category_votes or {})
        lead = max((v for k, v in votes.items() if k != new), default=0.0)
        votes[new] = max(votes.get(new, 0.0), lead + CORRECTION_LEAD)
        case.category_votes = votes
        case.category = new
    else:
        reasons = [r for r in case.severity_reasons or [] if not r.startswith("corrected:")]
        case.severity_reasons = [*reasons, "corrected:severe"] if new == Severity.severe.value else []
        case.severity = new
