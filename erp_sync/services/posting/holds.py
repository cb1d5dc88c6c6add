"""Holds and releases: holding a job (gate, awaiting parent, closed period), releasing the
children of posted parents and the jobs a closed circuit held."""

from __future__ import annotations

from django.db import transaction

from erp_sync.choices import HoldReason, SyncJobState
from erp_sync.models import Connection, SyncJob
from erp_sync.services.common import STARTABLE, erp_status_sync, release_jobs, save_job, transition
from exceptions.services import cases_resolve_for_subject


def hold_locked(job: SyncJob, *, reason: str, actor) -> None:
    """Hold an already locked job; keeps last_error fields the caller set."""
    transition(job, "hold", reason=reason)
    save_job(job, actor=actor, reason=f"held: {reason}")
    erp_status_sync(job, actor=actor)


def job_hold(*, job_id: int, reason: str, actor) -> bool:
    """Hold job `job_id` for `reason` if it is pending / waiting to retry; True if held.

    Idempotent: a job in any other state (held already, in flight elsewhere) is left alone.
    """
    with transaction.atomic():
        job = (
            SyncJob.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("event")
            .filter(pk=job_id, state__in=STARTABLE)
            .first()
        )
        if job is None:
            return False
        hold_locked(job, reason=reason, actor=actor)
    return True


# Document types another document can apply to (credit note, write-off, payment → invoice;
# refund → payment): only their posting can release children.
PARENT_TYPES = ("invoice", "payment")


def release_children_many(posted: list[SyncJob], connection: Connection, *, actor) -> None:
    """Release the jobs held awaiting any of `posted` (one EXISTS-like query for all)."""
    parents = {job.external_id: job for job in posted if job.document_type in PARENT_TYPES}
    if not parents:
        return
    waiting = (
        SyncJob.objects.filter(
            connection_id=connection.pk,
            parent_external_id__in=parents,
            hold_reason=HoldReason.AWAITING_PARENT,
            state=SyncJobState.HELD,
        )
        .order_by()
        .values_list("parent_external_id", flat=True)
        .distinct()
    )
    for external_id in sorted(waiting):
        jobs_release_children(job=parents[external_id], actor=actor)


def jobs_release_children(*, job: SyncJob, actor) -> int:
    """Release the jobs held awaiting `job` (same connection, parent = its external id)."""
    if job.document_type not in PARENT_TYPES:
        return 0
    children = SyncJob.objects.filter(
        connection_id=job.connection_id,
        parent_external_id=job.external_id,
        hold_reason=HoldReason.AWAITING_PARENT,
    )
    # Almost every parent has no held child: a plain EXISTS (index erp_job_parent_idx) is far
    # cheaper than the locking, joining release query.
    if not children.filter(state=SyncJobState.HELD).exists():
        return 0
    held = list(children.filter(state=SyncJobState.HELD))
    released = release_jobs(
        children, actor=actor, reason=f"parent {job.external_id} posted: released"
    )
    for child in held:
        # The sweeper may have flagged the child while its parent was dead: that is over.
        cases_resolve_for_subject(
            subject=child,
            actor=actor,
            reason=f"parent {job.external_id} posted",
            kinds=["parent_failed"],
        )
    return released


def connection_recovered(connection: Connection, *, actor) -> None:
    """The circuit closed: release what it held and resolve the connection's case."""
    release_jobs(
        SyncJob.objects.filter(connection=connection, hold_reason=HoldReason.CONNECTION_OPEN),
        actor=actor,
        reason="circuit closed: released",
    )
    cases_resolve_for_subject(
        subject=connection, actor=actor, reason="the ERP answered again", kinds=["circuit_open"]
    )
