"""Reads of billing for the console, the API, tasks and higher layers (erp_sync)."""

from datetime import date, timedelta

from django.db.models import Model, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from billing.choices import FinanceEventState, QuarantineReason
from billing.models import (
    CreditNote,
    Customer,
    DuplicateDeliveryCount,
    FinanceEvent,
    Invoice,
    Payment,
    PaymentAllocation,
    Refund,
    Subscription,
    WriteOff,
)

# The record that carries an event's ERP document, by event type.
_RECORD_MODELS: dict[str, type[Model]] = {
    "invoice.issued": Invoice,
    "credit_note.issued": CreditNote,
    "payment.settled": Payment,
    "refund.issued": Refund,
    "invoice.written_off": WriteOff,
}


def record_model_for_type(event_type: str) -> type[Model] | None:
    return _RECORD_MODELS.get(event_type)


def record_for_event(event: FinanceEvent) -> Model | None:
    """The Invoice/CreditNote/Payment/Refund/WriteOff `event` created, or None."""
    model = record_model_for_type(event.type)
    if model is None:
        return None
    return model.objects.filter(event=event).first()


def event_list() -> QuerySet[FinanceEvent]:
    """Events, newest first; the body and result are deferred (lists never show them)."""
    return FinanceEvent.objects.defer("body", "result").order_by("-id")


def event_get(*, source: str, event_id: str) -> FinanceEvent:
    """One event by its (source, id). Raises FinanceEvent.DoesNotExist."""
    return FinanceEvent.objects.select_related("received_by").get(source=source, event_id=event_id)


def events_applied_undispatched(*, older_than: timedelta, limit: int) -> QuerySet[FinanceEvent]:
    """Applied events without sync jobs yet, applied at least `older_than` ago, oldest first.

    For erp_sync's sweeper (the outbox): what a lost message left behind.
    """
    cutoff = timezone.now() - older_than
    return FinanceEvent.objects.filter(
        state=FinanceEventState.APPLIED, dispatched_at__isnull=True, applied_at__lte=cutoff
    ).order_by("id")[:limit]


def customer_list() -> QuerySet[Customer]:
    return Customer.objects.select_related("entity")


def subscription_list() -> QuerySet[Subscription]:
    return Subscription.objects.select_related("customer", "plan")


def invoice_list() -> QuerySet[Invoice]:
    return Invoice.objects.select_related("entity", "customer", "subscription")


def invoice_detail_queryset() -> QuerySet[Invoice]:
    """Invoices with their lines, allocations (with payments) and credit notes prefetched."""
    return invoice_list().prefetch_related(
        "lines",
        Prefetch("allocations", queryset=PaymentAllocation.objects.select_related("payment")),
        "credit_notes",
    )


def invoice_get(*, invoice_id: str) -> Invoice:
    """One invoice with everything its detail shows. Raises Invoice.DoesNotExist."""
    return invoice_detail_queryset().select_related("event").get(invoice_id=invoice_id)


def payment_list() -> QuerySet[Payment]:
    allocations = PaymentAllocation.objects.select_related("invoice")
    return Payment.objects.select_related("entity", "customer").prefetch_related(
        Prefetch("allocations", queryset=allocations)
    )


def credit_note_list() -> QuerySet[CreditNote]:
    return CreditNote.objects.select_related("invoice", "entity").prefetch_related("lines")


def records_of_event(event: FinanceEvent) -> list[dict]:
    """What `event` produced, as (kind, id) pairs for display, read from its stored result."""
    records = (event.result or {}).get("records") or {}
    return [{"kind": kind, "id": value} for kind, value in records.items()]


def correction_of(event: FinanceEvent) -> FinanceEvent | None:
    """The event `event` corrects (None for an ingested event)."""
    return event.corrects if event.corrects_id is not None else None


def corrected_by(event: FinanceEvent) -> FinanceEvent | None:
    """The corrected copy that replaced `event`, if a person corrected it (one query)."""
    if event.state != FinanceEventState.SUPERSEDED:
        return None
    return FinanceEvent.objects.filter(corrects=event).first()


def correction_root(event: FinanceEvent) -> FinanceEvent:
    """The ingested event a chain of corrections started from (`event` itself when it is not
    a correction): the subject of the chain's exception cases. No query for an ingested
    event, one per correction step otherwise (chains are a few steps long)."""
    while event.corrects_id is not None:
        event = event.corrects
    return event


def correction_head(event: FinanceEvent) -> FinanceEvent:
    """The latest version of `event`: follows `corrected_by` while it was superseded."""
    while (copy := corrected_by(event)) is not None:
        event = copy
    return event


def correction_depth(event: FinanceEvent) -> int:
    """How many corrections lie between the ingested event and `event` (0 for itself)."""
    depth = 0
    while event.corrects_id is not None:
        event, depth = event.corrects, depth + 1
    return depth


def correction_shown(event: FinanceEvent, copy: FinanceEvent | None) -> dict | None:
    """The correction an event page shows: the one that made `event` (a copy), else the one
    that replaced it (`copy`); {"reason", "changes", "at", "by"} or None."""
    made = event if event.corrects_id is not None else copy
    if made is None:
        return None
    return {**made.correction, "at": made.received_at, "by": made.received_by}


def with_correction(entries: list[dict], event: FinanceEvent, copy: FinanceEvent | None):
    """`entries` (config.console.history_entries of `event`) with the correction's changed
    field paths added to the row that records it: the copy's first row, or the row where
    `event` became superseded. The history reason is cut at 100 characters; the changes are
    kept in full on the copy and shown here."""
    shown = correction_shown(event, copy)
    if shown is None:
        return entries
    changes = [
        {
            "field": change["field"],
            "old": "—" if change["old"] is None else str(change["old"]),
            "new": "—" if change["new"] is None else str(change["new"]),
        }
        for change in shown.get("changes", [])
    ]
    if event.corrects_id is not None:
        target = next((e for e in reversed(entries) if e["action"] == "Created"), None)
    else:
        superseded = [e for e in entries if e["state"] == FinanceEventState.SUPERSEDED]
        target = superseded[-1] if superseded else None
    if target is not None:
        target["changes"] = [*target["changes"], *changes]
    return entries


# The dashboard's windows of rejected duplicate deliveries: (key, label, days up to today).
DUPLICATE_WINDOWS = (
    ("today", "Today (UTC)", 1),
    ("7d", "Last 7 days", 7),
    ("30d", "Last 30 days", 30),
)


def duplicate_deliveries(*, today: date | None = None) -> dict:
    """Deliveries of an already stored event the ingest rejected, per window of
    DUPLICATE_WINDOWS (UTC days up to `today`): {"windows": [{"window", "label", "since",
    "duplicates" (answered 200), "conflicts" (409, another body), "rejected"}],
    "quarantined_duplicate_records": events still quarantined because their record
    existed}. The deliveries are counted (DuplicateDeliveryCount), not stored. Two queries.
    """
    today = today or timezone.now().date()
    starts = {key: today - timedelta(days=days - 1) for key, _, days in DUPLICATE_WINDOWS}
    sums = {}
    for key, since in starts.items():
        in_window = Q(day__gte=since)
        sums[f"{key}_duplicates"] = Sum("duplicates", filter=in_window)
        sums[f"{key}_conflicts"] = Sum("conflicts", filter=in_window)
    figures = DuplicateDeliveryCount.objects.filter(
        day__gte=min(starts.values()), day__lte=today
    ).aggregate(**sums)
    windows = []
    for key, label, _ in DUPLICATE_WINDOWS:
        duplicates = figures[f"{key}_duplicates"] or 0
        conflicts = figures[f"{key}_conflicts"] or 0
        windows.append(
            {
                "window": key,
                "label": label,
                "since": starts[key],
                "duplicates": duplicates,
                "conflicts": conflicts,
                "rejected": duplicates + conflicts,
            }
        )
    quarantined = FinanceEvent.objects.filter(
        state=FinanceEventState.QUARANTINED, quarantine_reason=QuarantineReason.DUPLICATE_RECORD
    ).count()
    return {"windows": windows, "quarantined_duplicate_records": quarantined}
