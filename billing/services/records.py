"""Writes erp_sync makes on billing records through billing: the outbox marker and ERP status."""

from django.db import transaction
from django.utils import timezone

from billing.choices import ErpStatus
from billing.errors import BillingError
from billing.handlers.common import history_reason
from billing.models import FinanceEvent
from billing.selectors import record_model_for_type
from config.history import stamp


def event_mark_dispatched(*, event_ids: list[int]) -> int:
    """Mark applied events as dispatched (their sync jobs exist). Returns how many changed.

    Idempotent: an event already dispatched keeps its first timestamp. A bulk update without
    history rows: the marker is outbox bookkeeping, not a change of the event.
    """
    if not event_ids:
        return 0
    with transaction.atomic():
        return FinanceEvent.objects.filter(
            pk__in=list(event_ids), dispatched_at__isnull=True
        ).update(dispatched_at=timezone.now())


def record_erp_status_set(
    *,
    event: FinanceEvent,
    status: str,
    document_number: str = "",
    document_id: str = "",
    actor=None,
):
    """Set erp_status (and the ERP document number/id when given) on the event's record.

    Returns the record, unchanged when nothing differs (idempotent). Raises
    BillingError(code="no_record") when the event made no invoice, credit note, payment,
    refund or write-off, and BillingError(code="invalid_erp_status") for an unknown status.
    """
    if status not in ErpStatus.values:
        raise BillingError(
            f"unknown ERP status {status!r}", code="invalid_erp_status", field="status", status=400
        )
    model = record_model_for_type(event.type)
    with transaction.atomic():
        record = model.objects.select_for_update().filter(event=event).first() if model else None
        if record is None:
            raise BillingError(f"event {event} made no ERP document record", code="no_record")
        changes = {"erp_status": status}
        if document_number:
            changes["erp_document_number"] = document_number
        if document_id:
            changes["erp_document_id"] = document_id
        changed = [name for name, value in changes.items() if getattr(record, name) != value]
        if not changed:
            return record
        for name in changed:
            setattr(record, name, changes[name])
        stamp(record, actor=actor, reason=f"{history_reason(event)}: ERP status {status}")
        record.save(update_fields=changed)
    return record
