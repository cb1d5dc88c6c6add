"""What each side held at a run: the ERP's listing and billing's documents, stored per run.

The ERP side comes ONLY from the adapter's listing (never from Concord's sync jobs). The
billing side is read from billing's own records. Both are stored so the run can be explained
and repeated from its rows. Billing rows carry the ERP external id each record's event posts
under (erp_sync.documents.external_id_from, a SHA-1 neither SQLite nor core PostgreSQL can
compute, hence Python here) and the currency's tolerance at the time of the run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.db import transaction
from django.utils.dateparse import parse_datetime

from billing.models import CreditNote, Invoice, Payment, Refund, WriteOff
from config.money import CurrencyError, minor_units
from erp_sync.adapters.base import ListedDocument
from erp_sync.documents import external_id_from
from reconciliation.choices import DocumentStatus
from reconciliation.models import (
    BillingSnapshotRow,
    CurrencyTolerance,
    ErpSnapshotRow,
    ReconciliationRun,
)

BATCH_SIZE = 2000
ZERO = Decimal(0)
# The ERP's own state words → the status both sides share. Unknown words compare as unknown.
# A draft or validated document is not posted: it compares as unposted, which billing never
# is, so an issued invoice the ERP holds only as a draft is a status_mismatch.
ERP_STATUS = {
    "draft": DocumentStatus.UNPOSTED,
    "validated": DocumentStatus.UNPOSTED,
    "posted": DocumentStatus.OPEN,
    "open": DocumentStatus.OPEN,
    "paid": DocumentStatus.SETTLED,
    "settled": DocumentStatus.SETTLED,
    "cancelled": DocumentStatus.CANCELLED,
    "cancel": DocumentStatus.CANCELLED,
}
# Billing invoice states → the shared status (other billing kinds have no status).
INVOICE_STATUS = {
    "issued": DocumentStatus.OPEN,
    "partially_paid": DocumentStatus.OPEN,
    "paid": DocumentStatus.SETTLED,
    "credited": DocumentStatus.SETTLED,
    "written_off": DocumentStatus.SETTLED,
}


def tolerances() -> dict[str, Decimal]:
    """The configured tolerance per currency (CurrencyTolerance rows)."""
    return dict(CurrencyTolerance.objects.values_list("currency", "tolerance_amount"))


def tolerance_for(currency: str, configured: dict[str, Decimal]) -> Decimal:
    """The currency's configured tolerance, else one minor unit of it (0.01 for unknown)."""
    if currency in configured:
        return configured[currency]
    try:
        return Decimal(1).scaleb(-minor_units(currency))
    except CurrencyError:
        return Decimal("0.01")


# -- the ERP side ------------------------------------------------------------------------------
def erp_row(run: ReconciliationRun, listed: ListedDocument) -> ErpSnapshotRow:
    """The snapshot row of one listed document (state mapped to the shared status)."""
    state = listed.state or ""
    return ErpSnapshotRow(
        run=run,
        kind=listed.kind,
        external_id=listed.external_id or "",
        number=listed.number or "",
        reference=listed.reference or "",
        parent_external_id=listed.parent_external_id or "",
        party_code=listed.party_code or "",
        currency=listed.currency,
        net_amount=Decimal(listed.net_total) if listed.net_total is not None else None,
        tax_amount=Decimal(listed.tax_total or 0),
        total_amount=Decimal(listed.total),
        state=state,
        status=ERP_STATUS.get(state.lower(), DocumentStatus.UNKNOWN),
        document_date=listed.document_date,
    )


def erp_snapshot_store(*, run: ReconciliationRun, listed: Iterable[ListedDocument]) -> int:
    """Store one page of the ERP's listing as run rows (one transaction); returns how many."""
    rows = [erp_row(run, item) for item in listed]
    with transaction.atomic():
        ErpSnapshotRow.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    return len(rows)


# -- the billing side --------------------------------------------------------------------------
_EVENT = ("event__source", "event__event_id", "event__type")


def _source_date(body: dict, name: str) -> dt.date | None:
    """The date a source date-time names in its own offset (as erp_sync dates the document)."""
    value = parse_datetime(str(((body or {}).get("data") or {}).get(name, "")))
    return value.date() if value is not None else None


def _invoices(run: ReconciliationRun) -> Iterator[dict]:
    rows = Invoice.objects.filter(
        entity=run.entity, issue_date__range=(run.period_start, run.period_end)
    ).values_list(
        "pk",
        "invoice_id",
        "customer__customer_id",
        "currency",
        "subtotal_amount",
        "tax_amount",
        "total_amount",
        "state",
        "issue_date",
        "erp_document_number",
        *_EVENT,
    )
    for pk, number, party, cur, net, tax, total, state, day, erp_number, *event in rows:
        yield {
            "kind": "invoice",
            "record_id": pk,
            "number": number,
            "party_code": party,
            "currency": cur,
            "net_amount": net,
            "tax_amount": tax,
            "total_amount": total,
            "status": INVOICE_STATUS.get(state, DocumentStatus.UNKNOWN),
            "document_date": day,
            "erp_number": erp_number,
            "event": event,
        }


def _credit_notes(run: ReconciliationRun) -> Iterator[dict]:
    rows = CreditNote.objects.filter(
        entity=run.entity, issue_date__range=(run.period_start, run.period_end)
    ).values_list(
        "pk",
        "credit_note_id",
        "invoice__customer__customer_id",
        "currency",
        "subtotal_amount",
        "tax_amount",
        "total_amount",
        "issue_date",
        "erp_document_number",
        *_EVENT,
    )
    for pk, number, party, cur, net, tax, total, day, erp_number, *event in rows:
        yield {
            "kind": "credit_note",
            "record_id": pk,
            "number": number,
            "party_code": party,
            "currency": cur,
            "net_amount": net,
            "tax_amount": tax,
            "total_amount": total,
            "document_date": day,
            "erp_number": erp_number,
            "event": event,
        }


def _widened(run: ReconciliationRun) -> tuple[dt.datetime, dt.datetime]:
    """A UTC range surely containing every date-time whose own-offset date is in the period."""
    start = dt.datetime.combine(run.period_start - dt.timedelta(days=1), dt.time.min, dt.UTC)
    end = dt.datetime.combine(run.period_end + dt.timedelta(days=2), dt.time.min, dt.UTC)
    return start, end


def _money_movements(run: ReconciliationRun) -> Iterator[dict]:
    """Payments and refunds, dated as their source wrote the date-time (as the ERP has it)."""
    start, end = _widened(run)
    payments = Payment.objects.filter(
        entity=run.entity, received_at__gte=start, received_at__lt=end
    ).values_list(
        "pk", "payment_id", "customer__customer_id", "currency", "amount", "erp_document_number",
        "event__body", *_EVENT,
    )  # fmt: skip
    refunds = Refund.objects.filter(
        payment__entity=run.entity, issued_at__gte=start, issued_at__lt=end
    ).values_list(
        "pk", "refund_id", "payment__customer__customer_id", "currency", "amount",
        "erp_document_number", "event__body", *_EVENT,
    )  # fmt: skip
    for kind, rows, date_name in (
        ("payment", payments, "received_at"),
        ("refund", refunds, "issued_at"),
    ):
        for pk, number, party, cur, amount, erp_number, body, *event in rows:
            day = _source_date(body, date_name)
            if day is None or not run.period_start <= day <= run.period_end:
                continue
            yield {
                "kind": kind,
                "record_id": pk,
                "number": number,
                "party_code": party,
                "currency": cur,
                "total_amount": amount,
                "document_date": day,
                "erp_number": erp_number,
                "event": event,
            }


def _write_offs(run: ReconciliationRun) -> Iterator[dict]:
    """Write-offs, dated by their event's time (as erp_sync dates the document)."""
    start, end = _widened(run)
    rows = WriteOff.objects.filter(
        invoice__entity=run.entity, event__event_time__gte=start, event__event_time__lt=end
    ).values_list(
        "pk", "invoice__invoice_id", "invoice__customer__customer_id", "currency", "amount",
        "erp_document_number", "event__event_time", *_EVENT,
    )  # fmt: skip
    for pk, number, party, cur, amount, erp_number, event_time, *event in rows:
        day = event_time.date()
        if run.period_start <= day <= run.period_end:
            yield {
                "kind": "write_off",
                "record_id": pk,
                "number": number,
                "party_code": party,
                "currency": cur,
                "total_amount": amount,
                "document_date": day,
                "erp_number": erp_number,
                "event": event,
            }


def billing_documents(run: ReconciliationRun) -> Iterator[dict]:
    """Every billing document of the run's entity and period (documents scope)."""
    yield from _invoices(run)
    yield from _credit_notes(run)
    yield from _money_movements(run)
    yield from _write_offs(run)


def billing_snapshot_store(*, run: ReconciliationRun) -> int:
    """Store billing's documents of the run's entity and period as its billing rows."""
    configured = tolerances()
    rows = []
    for document in billing_documents(run):
        source, event_id, event_type = document.pop("event")
        rows.append(
            BillingSnapshotRow(
                run=run,
                external_id=external_id_from(
                    source=source, event_id=event_id, event_type=event_type
                ),
                tolerance_amount=tolerance_for(document["currency"], configured),
                **document,
            )
        )
    BillingSnapshotRow.objects.bulk_create(rows, batch_size=BATCH_SIZE)
    return len(rows)
