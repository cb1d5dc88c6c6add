"""Fixing a break at its cause: replay the posting of a document missing in the ERP.

A `missing_in_erp` break names a billing document the ERP did not list. Its posting is the
sync job of the document's event on the run's connection: replaying it sends the document
again through erp_sync (the job's own history and cases record that too). The break stays
open: the next run resolves it, and its case, once the ERP lists the document.
"""

from __future__ import annotations

from django.db import transaction

from billing.models import CreditNote, FinanceEvent, Invoice, Payment, Refund, WriteOff
from config.history import stamp
from erp_sync.choices import SyncJobState
from erp_sync.errors import ErpSyncError
from erp_sync.models import SyncJob
from erp_sync.services.jobs import job_replay, sync_jobs_create_for_event
from reconciliation.choices import BreakKind, BreakState
from reconciliation.errors import ReconciliationError
from reconciliation.models import BillingSnapshotRow, Break

# Billing snapshot kind → the billing model its record_id names.
RECORD_MODELS = {
    "invoice": Invoice,
    "credit_note": CreditNote,
    "payment": Payment,
    "refund": Refund,
    "write_off": WriteOff,
}
# Permission of the console button, the case remediation and the API: replaying a posting
# is replaying a sync job.
REPLAY_PERMISSION = "erp_sync.replay_syncjob"


def posting_replayable(item: Break) -> bool:
    """The break is an open missing_in_erp break (the one kind a replay can fix)."""
    return item.kind == BreakKind.MISSING_IN_ERP and item.state == BreakState.OPEN


def _event_of(item: Break) -> FinanceEvent:
    """The finance event whose posting the break's billing document is."""
    row = (
        BillingSnapshotRow.objects.filter(
            run_id=item.last_seen_run_id, kind=item.billing_kind, number=item.billing_number
        )
        .order_by("id")
        .first()
    )
    model = RECORD_MODELS.get(item.billing_kind)
    record = model.objects.select_related("event").filter(pk=row.record_id).first() if (
        row is not None and model is not None
    ) else None  # fmt: skip
    if record is None or record.event is None:
        raise ReconciliationError(
            f"billing holds no {item.billing_kind.replace('_', ' ')} {item.billing_number} "
            "any more; nothing to replay",
            code="record_missing",
        )
    return record.event


def _replay(item: Break, *, actor) -> str:
    run = item.last_seen_run
    event = _event_of(item)
    job = SyncJob.objects.filter(event=event, connection=run.connection).first()
    if job is None:
        if not run.connection.is_active:
            raise ReconciliationError(
                f"connection {run.connection.name} is not active; nothing can post through it",
                code="connection_inactive",
            )
        jobs = sync_jobs_create_for_event(event=event, actor=actor)
        job = next((j for j in jobs if j.connection_id == run.connection_id), None)
        if job is None:
            raise ReconciliationError(
                f"event {event.source}/{event.event_id} posts no document to the ERP",
                code="not_replayable",
            )
        return f"posting {job.external_id} created ({job.get_state_display().lower()})"
    if job.state == SyncJobState.POSTED:
        raise ReconciliationError(
            f"sync job {job.external_id} posted it as {job.erp_number or '?'} "
            f"on {job.posted_at:%Y-%m-%d}, yet the ERP did not list it in run #{run.pk}: "
            "look for it in the ERP (deleted or moved?) before posting it again",
            code="already_posted",
        )
    if job.state in (SyncJobState.CANCELLED, SyncJobState.IN_FLIGHT):
        raise ReconciliationError(
            f"sync job {job.external_id} is {job.get_state_display().lower()}"
            + (f" ({job.cancel_reason})" if job.cancel_reason else "")
            + "; it cannot be replayed",
            code="not_replayable",
        )
    result = job_replay(job=job, actor=actor, reason=f"from reconciliation break #{item.pk}")
    return result.message


def break_posting_replay(*, item: Break, actor) -> str:
    """Replay the posting of the document an open missing_in_erp break names; one transaction.

    The document's event has a sync job on the run's connection: a dead or held one is
    replayed (`job_replay`: its document rebuilt when the document was the failure), a
    pending one re-enqueued; with no job yet, the event is dispatched. The break's history
    records who asked and what happened; the posting itself runs once this commits. Returns
    what was done.

    Raises ReconciliationError: `not_replayable` (another kind of break, not open, a job
    cancelled or being posted), `already_posted` (the job says posted: replaying would find
    it), `record_missing`, `connection_inactive`, or the job's failure code when its document
    still cannot be built (that job's case is bumped and kept).
    """
    with transaction.atomic():
        item = (
            Break.objects.select_for_update()
            .select_related("last_seen_run__connection")
            .get(pk=item.pk)
        )
        if not posting_replayable(item):
            raise ReconciliationError(
                f"only an open missing-in-the-ERP break has a posting to replay; this one is "
                f"{item.get_kind_display().lower()}, {item.state}",
                code="not_replayable",
            )
        try:
            message = _replay(item, actor=actor)
        except ErpSyncError as error:
            # The job's case was bumped inside; keep it, record the attempt, then refuse.
            stamp(item, actor=actor, reason=f"replay of the posting failed: {error.code}")
            item.save(update_fields=["state"])
            failure = error
        else:
            stamp(item, actor=actor, reason=f"posting replayed: {message}")
            item.save(update_fields=["state"])
            failure = None
    if failure is not None:
        raise ReconciliationError(failure.message, code=failure.code) from failure
    return message
