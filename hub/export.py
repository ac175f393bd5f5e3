"""The firm export shape of a case (``hub cases export``, webhook payloads)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from hub.cases import public_id
from hub.models import utc
from hub.tables import CaseRow, CustomerIdentityRow, CustomerRow, MessageRow

__all__ = ["case_document", "iso", "iter_case_documents"]


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z``, or None."""
    if value is None:
        return None
    return utc(value).isoformat().replace("+00:00", "Z")


def _message_doc(m: MessageRow) -> dict[str, Any]:
    return {
        "connector": m.connector,
        "native_id": m.native_id,
        "channel": m.channel,
        "received_at": iso(m.occurred_at),
        "text": m.text,
        "order_nos": list(m.order_nos or []),
        "tracking_nos": list(m.tracking_nos or []),
        "matched_by": (m.matched_by or {}).get("by"),
    }


def _customer_doc(customer: CustomerRow | None, identities: Sequence[CustomerIdentityRow]) -> dict[str, Any]:
    by_kind: dict[str, list[str]] = defaultdict(list)
    for ident in identities:
        by_kind[ident.kind].append(ident.value)
    return {
        "name": customer.name if customer else None,
        "emails": by_kind["email"],
        "phones": by_kind["phone"],
        "handles": by_kind["handle"],
    }


def case_document(
    case: CaseRow,
    messages: Sequence[MessageRow],
    customer: CustomerRow | None,
    identities: Sequence[CustomerIdentityRow],
) -> dict[str, Any]:
    """One case in the firm export shape."""
    assert case.id is not None
    orders: dict[str, None] = {}
    parcels: dict[str, None] = {}
    for m in messages:
        orders.update(dict.fromkeys(m.order_nos or []))
        parcels.update(dict.fromkeys(m.tracking_nos or []))
    return {
        "case_id": public_id(case.id),
        "status": case.status,
        "category": case.category,
        "severity": case.severity,
        "created_at": iso(case.created_at),
        "updated_at": iso(case.updated_at),
        "sla_due_at": iso(case.sla_due_at),
        "customer": _customer_doc(customer, identities),
        "order_nos": list(orders),
        "tracking_nos": list(parcels),
        "messages": [_message_doc(m) for m in messages],
    }


def iter_case_documents(session: Session, *, chunk: int = 500) -> Iterator[dict[str, Any]]:
    """Every case in id order, loaded a chunk at a time."""
    last = 0
    while True:
        cases = session.exec(
            select(CaseRow).where(col(CaseRow.id) > last).order_by(col(CaseRow.id)).limit(chunk)
        ).all()
        if not cases:
            return
        ids = [c.id for c in cases]
        msgs: dict[int, list[MessageRow]] = defaultdict(list)
        for m in session.exec(
            select(MessageRow)
            .where(col(MessageRow.case_id).in_(ids))
            .order_by(col(MessageRow.occurred_at), col(MessageRow.id))
        ).all():
            assert m.case_id is not None
            msgs[m.case_id].append(m)
        cust_ids = {c.customer_id for c in cases if c.customer_id}
        customers = {
            c.id: c for c in session.exec(select(CustomerRow).where(col(CustomerRow.id).in_(cust_ids))).all()
        }
        idents: dict[int, list[CustomerIdentityRow]] = defaultdict(list)
        for i in session.exec(
            select(CustomerIdentityRow)
            .where(col(CustomerIdentityRow.customer_id).in_(cust_ids))
            .order_by(col(CustomerIdentityRow.id))
        ).all():
            idents[i.customer_id].append(i)
        for case in cases:
            assert case.id is not None
            cid = case.customer_id
            yield case_document(
                case, msgs[case.id], customers.get(cid) if cid else None, idents[cid] if cid else []
            )
        last = ids[-1] or last


def load_case_document(session: Session, case_id: int) -> dict[str, Any] | None:
    """One case in the export shape, or None if it does not exist."""
    case = session.get(CaseRow, case_id)
    if case is None:
        return None
    messages = session.exec(
        select(MessageRow)
        .where(MessageRow.case_id == case_id)
        .order_by(col(MessageRow.occurred_at), col(MessageRow.id))
    ).all()
    customer = session.get(CustomerRow, case.customer_id) if case.customer_id else None
    identities = (
        session.exec(
            select(CustomerIdentityRow)
            .where(CustomerIdentityRow.customer_id == case.customer_id)
            .order_by(col(CustomerIdentityRow.id))
        ).all()
        if case.customer_id
        else []
    )
    return case_document(case, messages, customer, identities)
