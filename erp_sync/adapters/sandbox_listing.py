"""The sandbox ledger's listing for reconciliation: one page of an entity's documents.

What the sandbox reports for each document (every kind it holds: invoices, credit notes,
payments, refunds, write-offs, settlements, and summaries keyed in by hand):

- amounts: total and tax as booked; net = total - tax;
- reference: the source document number the posted document carried (`body.reference`);
  parent_external_id: the document it applies to, as posted;
- state, kept simple: a state written on the document by hand (`body.state`: how a test or
  the demo "changes the ERP", e.g. cancelled) wins; otherwise an invoice is `paid` when the
  payments, credit notes and write-offs naming it as parent (in any period, as the ledger
  holds them now) add up to at least its total, else `posted`; every other kind is `posted`.
  Refunds are not netted against the payment they return (a refunded payment still counts).

Pages are keyed by id (`id > after`, ordered by id, `limit` rows), so a listing of a million
documents holds one page at a time and reads each row once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Sum

from erp_sync.adapters.base import ListedDocument
from erp_sync.models import SandboxDocument

# The kinds that settle the invoice they name as parent.
SETTLING_KINDS = ("payment", "credit_note", "write_off")
_COLUMNS = (
    "pk",
    "external_id",
    "kind",
    "number",
    "currency",
    "total_amount",
    "tax_amount",
    "document_date",
    "party_code",
    "parent_external_id",
    "body__reference",
    "body__state",
)


def listing_page(
    connection, entity: str, period_start: dt.date, period_end: dt.date, after: int, limit: int
) -> list[tuple[int, ListedDocument]]:
    """Up to `limit` documents of `entity` dated in the period with id > `after`, by id, as
    (id, ListedDocument)."""
    rows = list(
        SandboxDocument.objects.filter(
            connection=connection,
            entity=entity,
            document_date__gte=period_start,
            document_date__lte=period_end,
            pk__gt=after,
        )
        .order_by("pk")
        .values_list(*_COLUMNS)[:limit]
    )
    settled = _settled_totals(connection, [row[1] for row in rows if row[2] == "invoice"])
    page = []
    for pk, external_id, kind, number, cur, total, tax, day, party, parent, ref, state in rows:
        if not state:
            paid = kind == "invoice" and settled.get(external_id, Decimal(0)) >= total
            state = "paid" if paid else "posted"
        listed = ListedDocument(
            external_id=external_id,
            kind=kind,
            number=number,
            currency=cur,
            total=total,
            tax_total=tax,
            net_total=total - tax,
            document_date=day,
            party_code=party,
            state=str(state),
            reference=str(ref or ""),
            parent_external_id=parent,
        )
        page.append((pk, listed))
    return page


def _settled_totals(connection, invoice_ids: list[str]) -> dict[str, Decimal]:
    """Per invoice external id: the total of the documents settling it."""
    if not invoice_ids:
        return {}
    rows = (
        SandboxDocument.objects.filter(
            connection=connection, kind__in=SETTLING_KINDS, parent_external_id__in=invoice_ids
        )
        .values("parent_external_id")
        .annotate(settled=Sum("total_amount"))
        .values_list("parent_external_id", "settled")
    )
    return {parent: Decimal(settled) for parent, settled in rows}
