"""What handlers and the batch path need to let waiting events go (out-of-order webhooks).

An event quarantined only because a record it names has not arrived yet (reasons in
AWAITED_BY_REASON) waits in `AwaitedRecord`. A handler that creates such a record asks, in a
query it makes anyway, whether anything waits for its key (`awaited`), and if so calls
`release_on_commit`: once the unit of work commits, task `billing.release_awaiting` re-applies
the waiting events in their original order (billing.services.awaiting).
"""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Exists, Q

from billing.choices import QuarantineReason
from billing.models import AwaitedKind, AwaitedRecord
from config.celery import app as celery_app

AWAITED_BY_REASON = {
    QuarantineReason.UNKNOWN_CUSTOMER: AwaitedKind.CUSTOMER,
    QuarantineReason.UNKNOWN_SUBSCRIPTION: AwaitedKind.SUBSCRIPTION,
    QuarantineReason.UNKNOWN_INVOICE: AwaitedKind.INVOICE,
    QuarantineReason.UNKNOWN_PAYMENT: AwaitedKind.PAYMENT,
}
RELEASE_TASK = "billing.release_awaiting"
# The events whose handler creates an awaitable record, and the data field naming it.
CREATED_BY_TYPE = {
    "customer.upserted": (AwaitedKind.CUSTOMER, "customer_id"),
    "subscription.created": (AwaitedKind.SUBSCRIPTION, "subscription_id"),
    "invoice.issued": (AwaitedKind.INVOICE, "invoice_id"),
    "payment.settled": (AwaitedKind.PAYMENT, "payment_id"),
}

Key = tuple[str, str]


def awaited(kind: str, record_id: str) -> Exists:
    """True when an event waits for record (kind, record_id): an annotation for a query the
    handler makes anyway (one index probe of billing_awaited_key, no statement of its own)."""
    return Exists(AwaitedRecord.objects.filter(kind=kind, record_id=record_id))


def awaited_keys(keys: Iterable[Key]) -> list[Key]:
    """Which of `keys` some event waits for, in one query (the batch path)."""
    by_kind: dict[str, set[str]] = {}
    for kind, record_id in keys:
        by_kind.setdefault(str(kind), set()).add(record_id)
    if not by_kind:
        return []
    condition = Q()
    for kind, ids in by_kind.items():
        condition |= Q(kind=kind, record_id__in=sorted(ids))
    rows = AwaitedRecord.objects.filter(condition).order_by().values_list("kind", "record_id")
    return sorted(set(rows))


def release_on_commit(keys: Iterable[Key]) -> None:
    """Once the current transaction commits, re-apply the events waiting for `keys` (task
    `billing.release_awaiting`, inline when Celery runs eagerly). Nothing when it rolls back."""
    wanted = sorted({(str(kind), str(record_id)) for kind, record_id in keys})
    if not wanted:
        return

    def send() -> None:
        celery_app.signature(
            RELEASE_TASK, kwargs={"keys": [list(key) for key in wanted]}, queue="events"
        ).apply_async()

    transaction.on_commit(send)
