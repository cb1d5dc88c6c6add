"""Events that wait for a record which has not arrived yet (out-of-order webhooks).

Billing platforms send webhooks out of order: a `payment.settled` may come before its
`invoice.issued`. Such an event is quarantined (unknown_invoice, with its case) and waits in
`AwaitedRecord` for the record it names. When an event creates that record, the handler
sees the waiter in a query it makes anyway (billing.awaiting) and, once that unit of work
commits, `events_release_awaiting` re-applies the waiting events in the order they were
received, each in its own transaction; their cases resolve saying which record arrived.
Past settings.CONCORD_AWAIT_WINDOW_DAYS the wait ends and the case escalates instead
(`awaiting_sweep`, a beat task, which also releases what a lost message did not).
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.awaiting import AWAITED_BY_REASON, Key
from billing.errors import BillingError
from billing.models import (
    AwaitedKind,
    AwaitedRecord,
    Customer,
    FinanceEvent,
    Invoice,
    Payment,
    Subscription,
)
from billing.selectors import correction_root
from exceptions.escalation import cases_escalate_for_subject

logger = logging.getLogger(__name__)

# Where each awaited kind's records are found, by their source-system id.
RECORDS = {
    AwaitedKind.CUSTOMER: (Customer, "customer_id"),
    AwaitedKind.SUBSCRIPTION: (Subscription, "subscription_id"),
    AwaitedKind.INVOICE: (Invoice, "invoice_id"),
    AwaitedKind.PAYMENT: (Payment, "payment_id"),
}


def awaiting_window() -> timedelta:
    return timedelta(days=settings.CONCORD_AWAIT_WINDOW_DAYS)


def awaiting_until(row: AwaitedRecord) -> datetime:
    """When `row`'s wait ends and its event's case escalates."""
    return row.since + awaiting_window()


def event_await(
    *, event: FinanceEvent, awaits: tuple[str, str] | None, replaying: bool
) -> AwaitedRecord | None:
    """Record that quarantined `event` waits for `awaits` (kind, record id), or no longer
    waits (None). The wait keeps its start when the event goes on waiting (for another
    record, after a replay). Inside the caller's transaction. Returns the row or None."""
    if awaits is None:
        if replaying:
            AwaitedRecord.objects.filter(event=event).delete()
        return None
    kind, record_id = awaits
    row = AwaitedRecord.objects.filter(event=event).first() if replaying else None
    if row is None:
        row = AwaitedRecord(event=event, kind=kind, record_id=record_id)
        row.save(force_insert=True)
    elif (row.kind, row.record_id) != (kind, record_id):
        row.kind, row.record_id = kind, record_id
        row.save(update_fields=["kind", "record_id"])
    return row


def event_await_clear(*, event: FinanceEvent) -> None:
    """`event` no longer waits (it applied, or a person discarded it)."""
    AwaitedRecord.objects.filter(event=event).delete()


def events_release_awaiting(*, keys: Iterable[Key], actor) -> dict[str, int]:
    """Re-apply the events waiting for any of `keys` (kind, record id), oldest event first,
    each in its own transaction (billing.services.events.event_replay); their cases resolve
    with "the <kind> <id> it waited for arrived: re-applied automatically".

    An event that now fails for another reason stays quarantined (and waits again if that,
    too, is a record yet to come). Returns {"applied", "still_quarantined", "skipped"}.
    Idempotent: an event applied meanwhile is skipped.
    """
    # events imports this module (event_apply records waits): import the replay late.
    from billing.services.events import event_replay

    condition = Q()
    for kind, record_id in keys:
        condition |= Q(kind=kind, record_id=record_id)
    counts = {"applied": 0, "still_quarantined": 0, "skipped": 0}
    if not condition:
        return counts
    rows = list(AwaitedRecord.objects.filter(condition).order_by("event_id"))
    for row in rows:
        reason = f"the {row.kind} {row.record_id} it waited for arrived: re-applied automatically"
        try:
            event_replay(event=FinanceEvent(pk=row.event_id), actor=actor, reason=reason)
        except BillingError as error:
            key = "still_quarantined" if error.code == "still_quarantined" else "skipped"
            counts[key] += 1
            continue
        except FinanceEvent.DoesNotExist:
            counts["skipped"] += 1
            continue
        counts["applied"] += 1
    return counts


def awaiting_sweep(*, actor, limit: int = 1000) -> dict[str, int]:
    """The beat task's pass: release events whose record exists now (a lost release message,
    a record made another way), then end the wait of those past the window: their case
    escalates ("waited N days for invoice inv_1, which never came") and they wait no more.
    Returns {"released", "escalated"}. Idempotent."""
    waiting = list(
        AwaitedRecord.objects.order_by("event_id").values_list("kind", "record_id")[:limit]
    )
    arrived: list[Key] = []
    for kind, (model, field) in RECORDS.items():
        ids = sorted({record_id for k, record_id in waiting if k == kind})
        if ids:
            found = model.objects.filter(**{f"{field}__in": ids}).values_list(field, flat=True)
            arrived.extend((kind, record_id) for record_id in found)
    released = events_release_awaiting(keys=arrived, actor=actor)["applied"] if arrived else 0

    cutoff = timezone.now() - awaiting_window()
    kinds_by_awaited = {kind: reason for reason, kind in AWAITED_BY_REASON.items()}
    escalated = 0
    for row in AwaitedRecord.objects.filter(since__lt=cutoff).order_by("event_id")[:limit]:
        with transaction.atomic():
            event = FinanceEvent.objects.get(pk=row.event_id)
            cases_escalate_for_subject(
                subject=correction_root(event),
                actor=actor,
                reason=f"waited {settings.CONCORD_AWAIT_WINDOW_DAYS} days for {row.kind} "
                f"{row.record_id}, which never came: a person must act",
                kinds=[kinds_by_awaited[row.kind]],
            )
            row.delete()
        escalated += 1
    return {"released": released, "escalated": escalated}
