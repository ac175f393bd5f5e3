"""The customer identity graph: e-mails, phones and handles seen together are one person.

An identity (kind, value) belongs to exactly one customer. When a message
carries identities of two known customers (an AfterShip tracking with the
order's e-mail and phone, an e-mail whose signature has a phone), the two are
the same person and their records are merged. Names are kept on the customer
but never used to link: two people may share a name.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, tuple_
from sqlmodel import Session, col, select, update

from hub.models import Identity, IdentityKind
from hub.tables import CaseRow, CustomerIdentityRow, CustomerRow, MessageRow

__all__ = ["LINKING_KINDS", "customer_identities", "resolve_customer"]

#: identity kinds strong enough to link messages to one person
LINKING_KINDS = frozenset({IdentityKind.email, IdentityKind.phone, IdentityKind.handle})


def _linking(identities: Iterable[Identity]) -> list[Identity]:
    seen: dict[tuple[str, str], Identity] = {}
    for ident in identities:
        if ident.kind in LINKING_KINDS and ident.value:
            seen.setdefault((ident.kind.value, ident.value), ident)
    return list(seen.values())


def resolve_customer(
    session: Session,
    identities: Iterable[Identity],
    *,
    name: str | None,
    seen_at: datetime,
    message_id: int | None = None,
) -> CustomerRow | None:
    """Find (or create) the customer owning these identities, linking them all.

    Returns None when the message has no linking identity at all.
    """
    links = _linking(identities)
    if not links:
        return None
    keys = [(i.kind.value, i.value) for i in links]
    rows = session.exec(
        select(CustomerIdentityRow).where(
            tuple_(col(CustomerIdentityRow.kind), col(CustomerIdentityRow.value)).in_(keys)
        )
    ).all()
    owners = sorted({r.customer_id for r in rows})
    if owners:
        customer = session.get(CustomerRow, owners[0])
        assert customer is not None
        for other in owners[1:]:
            _merge_customers(session, keep=owners[0], gone=other)
    else:
        customer = CustomerRow(name=name, created_at=seen_at)
        session.add(customer)
        session.flush()
    assert customer.id is not None
    if name and not customer.name:
        customer.name = name
    known = {(r.kind, r.value) for r in rows}
    for kind, value in keys:
        if (kind, value) not in known:
            session.add(
                CustomerIdentityRow(
                    customer_id=customer.id,
                    kind=kind,
                    value=value,
                    first_seen_at=seen_at,
                    source_message_id=message_id,
                )
            )
    session.flush()
    return customer


def _merge_customers(session: Session, *, keep: int, gone: int) -> None:
    """Move everything of customer ``gone`` to ``keep`` (identities, messages, cases)."""
    for table in (CustomerIdentityRow, MessageRow, CaseRow):
        session.exec(update(table).where(col(table.customer_id) == gone).values(customer_id=keep))
    old = session.get(CustomerRow, gone)
    if old is not None:
        session.delete(old)
    session.flush()


def customer_identities(session: Session, customer_id: int) -> list[CustomerIdentityRow]:
    """All identities of a customer, oldest first."""
    return list(
        session.exec(
            select(CustomerIdentityRow)
            .where(CustomerIdentityRow.customer_id == customer_id)
            .order_by(col(CustomerIdentityRow.first_seen_at), col(CustomerIdentityRow.id))
        ).all()
    )


def find_customers(session: Session, query: str) -> list[CustomerRow]:
    """Customers by id, or by any identity value or name containing ``query``."""
    if query.isdigit():
        row = session.get(CustomerRow, int(query))
        return [row] if row else []
    ids = session.exec(
        select(CustomerIdentityRow.customer_id).where(col(CustomerIdentityRow.value).contains(query.lower()))
    ).all()
    return list(
        session.exec(
            select(CustomerRow).where(
                or_(col(CustomerRow.id).in_(set(ids)), col(CustomerRow.name).contains(query))
            )
        ).all()
    )
