"""``hub customers show``: the identity graph of a customer."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import col, select

from hub.cases import public_id
from hub.cli.app import app, console, fail, session
from hub.customers import customer_identities, find_customers
from hub.export import iso
from hub.tables import CaseRow

customers_app = typer.Typer(help="Customers and their linked identities.", no_args_is_help=True)
app.add_typer(customers_app, name="customers")


@customers_app.command("show")
def show_customer(
    query: Annotated[str, typer.Argument(help="customer id, e-mail, phone, handle or name")],
) -> None:
    """Identities (with when and from which message each was linked) and cases of matching customers."""
    with session() as s:
        found = find_customers(s, query)
        if not found:
            raise fail(f"no customer matches {query!r}")
        for c in found:
            assert c.id is not None
            console.print(f"[bold]customer #{c.id}[/bold] {c.name or ''}", highlight=False)
            for ident in customer_identities(s, c.id):
                console.print(
                    f"  {ident.kind:6} {ident.value}  "
                    f"(seen {iso(ident.first_seen_at)}, message #{ident.source_message_id})",
                    highlight=False,
                )
            for case in s.exec(
                select(CaseRow).where(CaseRow.customer_id == c.id).order_by(col(CaseRow.id))
            ).all():
                assert case.id is not None
                console.print(
                    f"  case {public_id(case.id)} {case.status} {case.category} {case.severity}",
                    highlight=False,
                )
