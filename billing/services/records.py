"""Writes erp_sync makes on billing records through billing: the outbox marker and ERP status."""

import logging
from collections import defaultdict

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.choices import ErpStatus
from billing.errors import BillingError
from billing.handlers.common import history_reason
from billing.models import FinanceEvent
from billing.selectors import record_model_for_type
from billing.services import bulk_write
from config.history import history_attrs, stamp

logger = logging.getLogger(__name__)


def event_mark_dispatched(*, event_ids: list[int], where: Q | None = None) -> int:
    """Mark applied events as dispatched (their sync jobs exist). Returns how many changed.

    With `where`, only the events that also match it (the caller's condition, e.g. erp_sync's
    "its entity has no active connection"), decided in the same statement. Idempotent: an
    event already dispatched keeps its first timestamp. A bulk update without history rows:
    the marker is outbox bookkeeping, not a change of the event. One statement, so no
    transaction of its own (in autocommit that saved BEGIN and COMMIT per ingest request).
    """
    if not event_ids:
        return 0
    events = FinanceEvent.objects.filter(pk__in=list(event_ids), dispatched_at__isnull=True)
    if where is not None:
        events = events.filter(where)
    return events.update(dispatched_at=timezone.now())


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
        changed = _erp_status_apply(record, event, status, document_number, document_id, actor)
        if changed:
            record.save(update_fields=changed)
    return record


def _erp_status_apply(record, event, status, document_number, document_id, actor) -> list[str]:
    """Set the ERP fields that differ on `record` (stamped for history); their names."""
    changes = {"erp_status": status}
    if document_number:
        changes["erp_document_number"] = document_number
    if document_id:
        changes["erp_document_id"] = document_id
    changed = [name for name, value in changes.items() if getattr(record, name) != value]
    for name in changed:
        setattr(record, name, changes[name])
    if changed:
        stamp(record, actor=actor, reason=f"{history_reason(event)}: ERP status {status}")
    return changed


def records_erp_status_set_many(updates: list[tuple], *, actor) -> int:
    """`record_erp_status_set` for many events: (event, status, document_number,
    document_id) each, in one UPDATE and one history COPY per record model. Returns how many
    records changed. Call inside a transaction.

    An event without a record is logged and skipped: the caller (a posting batch) must not
    roll back outcomes of documents the ERP already holds.
    """
    by_model: dict = defaultdict(dict)
    for update in updates:
        model = record_model_for_type(update[0].type)
        if model is not None:
            by_model[model][update[0].pk] = update
    changed_total = 0
    for model, by_event in by_model.items():
        records = list(
            model.objects.select_for_update().filter(event_id__in=by_event).order_by("pk")
        )
        missing = set(by_event) - {record.event_id for record in records}
        if missing:
            logger.warning(
                "ERP status for events without a record", extra={"events": sorted(missing)}
            )
        changed_records, fields = [], set()
        for record in records:
            changed = _erp_status_apply(record, *by_event[record.event_id], actor)
            if changed:
                changed_records.append(record)
                fields.update(changed)
        bulk_write.update_columns(model, changed_records, sorted(fields))
        bulk_write.history_insert(
            model, changed_records, history_type="~", custom_historical_attrs=history_attrs()
        )
        changed_total += len(changed_records)
    return changed_total
