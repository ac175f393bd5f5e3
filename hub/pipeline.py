"""The ingest pipeline: raw item → stored → parsed → understood → matched → case → outbox.

One database transaction per batch. Re-ingesting an item already stored
(same connector instance and native id) changes nothing. An item that cannot
be parsed is stored with status ``quarantined`` and its reason; nothing is
dropped. If a batch fails as a whole (a database error), its items are retried
one by one so a single bad item cannot hold back the others.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from hub.cases import CaseService
from hub.config import HubConfig
from hub.customers import resolve_customer
from hub.db import session_scope
from hub.errors import HubError
from hub.matching import Matcher, keys_of
from hub.metrics import observe_match
from hub.models import Channel, ComplaintMessage, NonActionable, RawItem, utc
from hub.registry import get_connector
from hub.tables import CaseRow, MessageKeyRow, MessageRow, RawItemRow
from hub.understand import enrich
from hub.understand.taxonomy import load_taxonomy

__all__ = ["IngestStats", "Intake", "Pipeline"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    """An item offered to the pipeline; ``rejected`` is set when it is already known to be unusable."""

    raw: RawItem
    rejected: str | None = None


@dataclass
class IngestStats:
    seen: int = 0
    duplicates: int = 0
    quarantined: int = 0
    messages: int = 0
    non_actionable: int = 0
    cases_opened: int = 0
    cases_joined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.seen} items: {self.messages} new messages, {self.duplicates} already stored, "
            f"{self.quarantined} quarantined; {self.cases_opened} cases opened, "
            f"{self.cases_joined} messages joined a case, {self.non_actionable} not actionable"
        )


class Pipeline:
    def __init__(self, engine: Engine, config: HubConfig) -> None:
        self.engine = engine
        self.config = config
        # fail fast on a broken taxonomy file instead of quarantining every item with its error
        load_taxonomy(config.understand.taxonomy_file())

    def ingest(self, items: Iterable[Intake], stats: IngestStats | None = None) -> IngestStats:
        """Ingest items in batches of ``ingest.batch_size``, one transaction each."""
        stats = stats or IngestStats()
        for batch in _batches(items, self.config.ingest.batch_size):
            self.ingest_batch(batch, stats)
        return stats

    def ingest_batch(
        self,
        batch: list[Intake],
        stats: IngestStats,
        also: Callable[[Session], None] | None = None,
    ) -> None:
        """Ingest ``batch`` in one transaction, with ``also`` (e.g. saving the cursor) in the same one.

        If the transaction fails, the items are retried one by one (a failing item is stored
        quarantined) and ``also`` runs in a transaction of its own afterwards.
        """
        try:
            with session_scope(self.engine) as session:
                batch_stats = IngestStats()
                for intake in batch:
                    self._ingest_one(session, intake, batch_stats)
                if also is not None:
                    also(session)
            _add(stats, batch_stats)
        except Exception:
            log.exception("batch of %d items failed; retrying them one by one", len(batch))
            for intake in batch:
                self._ingest_alone(intake, stats)
            if also is not None:
                with session_scope(self.engine) as session:
                    also(session)

    def _ingest_alone(self, intake: Intake, stats: IngestStats) -> None:
        one = IngestStats()
        try:
            with session_scope(self.engine) as session:
                self._ingest_one(session, intake, one)
        except Exception as exc:  # store it quarantined so it is not lost
            one = IngestStats(seen=1)
            with session_scope(self.engine) as session:
                if not _exists(session, intake.raw):
                    self._quarantine(session, intake.raw, f"internal error: {type(exc).__name__}: {exc}", one)
                else:
                    one.duplicates += 1
        _add(stats, one)

    def _ingest_one(self, session: Session, intake: Intake, stats: IngestStats) -> None:
        raw = intake.raw
        stats.seen += 1
        if _exists(session, raw):
            stats.duplicates += 1
            return
        if intake.rejected:
            self._quarantine(session, raw, intake.rejected, stats)
        else:
            row = self._store_raw(session, raw, status="pending")
            self.process(session, row, stats)

    def process(self, session: Session, row: RawItemRow, stats: IngestStats) -> MessageRow | None:
        """Parse, understand and match one stored raw item (also used by ``quarantine retry``)."""
        limit = self.config.ingest.max_item_bytes
        if len(row.payload) > limit:
            reason = f"item is {_mb(len(row.payload))}, over the {_mb(limit)} limit (ingest.max_item_bytes)"
            self._mark_quarantined(row, reason, stats)
            return None
        raw = to_raw_item(row)
        try:
            msg = get_connector(raw.connector).parse(raw)
            msg = enrich(msg, self.config.understand)
        except HubError as exc:
            self._mark_quarantined(row, str(exc), stats)
            return None
        except Exception as exc:  # a parser bug must not stop the import
            self._mark_quarantined(row, f"parser failed: {type(exc).__name__}: {exc}", stats)
            return None
        row.status = "processed"
        row.error = None
        session.add(row)
        return self._place(session, row, msg, stats)

    def _place(
        self, session: Session, row: RawItemRow, msg: ComplaintMessage, stats: IngestStats
    ) -> MessageRow:
        assert row.id is not None
        mrow = MessageRow(
            raw_item_id=row.id,
            connector=row.connector,
            instance=row.instance,
            native_id=row.native_id,
            channel=msg.channel.value,
            occurred_at=msg.occurred_at,
            subject=msg.subject,
            text=msg.text,
            language=msg.language,
            category=msg.category.value if msg.category else None,
            severity=msg.severity.value if msg.severity else None,
            actionable=msg.actionable,
            non_actionable_reason=msg.non_actionable_reason.value if msg.non_actionable_reason else None,
            order_nos=msg.order_nos,
            tracking_nos=msg.tracking_nos,
            courier_status=msg.courier.status.value if msg.courier else None,
            data=msg.model_dump(mode="json"),
        )
        session.add(mrow)
        session.flush()
        assert mrow.id is not None
        for kind, value in keys_of(msg):
            session.add(MessageKeyRow(message_id=mrow.id, kind=kind, value=value))
        customer = resolve_customer(
            session, msg.identities, name=msg.customer_name, seen_at=msg.occurred_at, message_id=mrow.id
        )
        mrow.customer_id = customer.id if customer else None
        stats.messages += 1
        self._decide(session, mrow, msg, stats)
        return mrow

    def _decide(self, session: Session, mrow: MessageRow, msg: ComplaintMessage, stats: IngestStats) -> None:
        cases = CaseService(session, self.config)
        if not msg.actionable:
            stats.non_actionable += 1
            how: dict[str, object] = {"by": "none", "reason": mrow.non_actionable_reason}
            if msg.non_actionable_reason is NonActionable.bounce:
                related = self._bounced_case(session, msg)
                if related is not None:  # the bounce is threaded to the case, without joining it
                    how["related_case"] = related
            mrow.matched_by = how
            observe_match("none")
            return
        matcher = Matcher(session, self.config.matching)
        decision = matcher.match(msg, mrow.customer_id)
        if decision is not None and decision.case_id is not None:
            if matcher.replies_to_unknown(msg):
                decision.detail["answers_shop"] = True
            case = session.get(CaseRow, decision.case_id)
            assert case is not None
            if self._too_late_to_reopen(case, msg):
                self._open(session, cases, mrow, msg, stats, detail={"linked_to": case.id})
                return
            cases.append(case, mrow, decision.as_json())
            stats.cases_joined += 1
            observe_match(decision.by)
            self._adopt_orphans(session, cases, case, msg)
            return
        if msg.channel is Channel.courier and not (msg.courier and msg.courier.status.is_problem):
            mrow.actionable = False
            mrow.non_actionable_reason = NonActionable.routine_scan.value
            mrow.matched_by = {"by": "none", "reason": "routine courier scan, no case names this shipment"}
            stats.non_actionable += 1
            observe_match("none")
            return
        self._open(session, cases, mrow, msg, stats, detail={})

    def _open(
        self,
        session: Session,
        cases: CaseService,
        mrow: MessageRow,
        msg: ComplaintMessage,
        stats: IngestStats,
        detail: dict[str, object],
    ) -> None:
        case = cases.open(mrow, customer_id=mrow.customer_id, detail=detail)
        stats.cases_opened += 1
        observe_match("new_case")
        self._adopt_orphans(session, cases, case, msg)

    def _bounced_case(self, session: Session, msg: ComplaintMessage) -> int | None:
        """The case of the message a bounce returned (or of the message that one answered)."""
        refs = msg.extra.get("bounced_references")
        keys = list(msg.parent_keys)
        if isinstance(refs, list):
            keys += [f"email:{r}" for r in refs if isinstance(r, str)]
        if not keys:
            return None
        found = Matcher(session, self.config.matching).case_for_keys("thread", keys)
        return found[0] if found else None

    def _too_late_to_reopen(self, case: CaseRow, msg: ComplaintMessage) -> bool:
        if case.status != "closed" or case.closed_at is None:
            return False
        age = utc(msg.occurred_at) - utc(case.closed_at)
        return age.total_seconds() > self.config.matching.reopen_window_days * 86400

    def _adopt_orphans(
        self, session: Session, cases: CaseService, case: CaseRow, msg: ComplaintMessage
    ) -> None:
        """Courier scans stored before a customer complained join the case that now names their parcel.

        Only a customer's message pulls in earlier routine scans: a proactive case opened by a courier
        failure does not turn the routine scans that preceded the failure into case content.
        """
        keys = [k for k in keys_of(msg) if k[0] in ("order", "tracking")]
        if not keys or msg.channel is Channel.courier:
            return
        for kind, value in keys:
            orphans = session.exec(
                select(MessageRow)
                .join(MessageKeyRow, col(MessageKeyRow.message_id) == MessageRow.id)
                .where(
                    MessageKeyRow.kind == kind,
                    MessageKeyRow.value == value,
                    col(MessageRow.case_id).is_(None),
                    MessageRow.non_actionable_reason == NonActionable.routine_scan.value,
                )
                .order_by(col(MessageRow.occurred_at))
            ).all()
            for orphan in orphans:
                orphan.actionable = True
                orphan.non_actionable_reason = None
                by = "order_no" if kind == "order" else "tracking_no"
                cases.append(case, orphan, {"by": by, "key": value, "retroactive": True})

    def _store_raw(
        self, session: Session, raw: RawItem, *, status: str, error: str | None = None
    ) -> RawItemRow:
        row = RawItemRow(
            connector=raw.connector,
            instance=raw.instance,
            native_id=raw.native_id,
            received_at=raw.received_at,
            occurred_at=raw.occurred_at,
            content_hash=raw.content_hash,
            size=len(raw.payload),
            payload=raw.payload,
            source=raw.source,
            status=status,
            error=error,
        )
        session.add(row)
        session.flush()
        return row

    def _quarantine(self, session: Session, raw: RawItem, reason: str, stats: IngestStats) -> None:
        self._store_raw(session, raw, status="quarantined", error=reason)
        _count_quarantine(stats, reason)

    def _mark_quarantined(self, row: RawItemRow, reason: str, stats: IngestStats) -> None:
        row.status = "quarantined"
        row.error = reason
        row.attempts += 1
        _count_quarantine(stats, reason)


def to_raw_item(row: RawItemRow) -> RawItem:
    return RawItem(
        connector=row.connector,
        instance=row.instance,
        native_id=row.native_id,
        received_at=row.received_at,
        occurred_at=row.occurred_at,
        payload=row.payload,
        source=row.source,
    )


def _exists(session: Session, raw: RawItem) -> bool:
    found = session.exec(
        select(RawItemRow.id).where(
            RawItemRow.instance == raw.instance, RawItemRow.native_id == raw.native_id
        )
    ).first()
    return found is not None


def _count_quarantine(stats: IngestStats, reason: str) -> None:
    stats.quarantined += 1
    key = reason.split(":", 1)[0][:60]
    stats.reasons[key] = stats.reasons.get(key, 0) + 1


def _add(total: IngestStats, part: IngestStats) -> None:
    for name in (
        "seen",
        "duplicates",
        "quarantined",
        "messages",
        "non_actionable",
        "cases_opened",
        "cases_joined",
    ):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    for k, v in part.reasons.items():
        total.reasons[k] = total.reasons.get(k, 0) + v


def _batches(items: Iterable[Intake], size: int) -> Iterator[list[Intake]]:
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"
