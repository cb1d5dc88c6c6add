"""The sweeper: re-drives whatever a lost message, a dead worker or a cleared hold left.

Run every 30 s by Celery beat (`erp_sync.sweep`, scheduled by erp_sync's post_migrate
hook). Every step is idempotent and bounded (`sweep_batch` rows per step), and safe with
two sweepers at once (skip_locked). Duplicate task messages it may send are harmless.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from billing.selectors import events_applied_undispatched
from erp_sync.choices import CircuitState, HoldReason, SyncJobState
from erp_sync.models import Connection, MaintenanceWindow, SyncJob
from erp_sync.services import circuit
from erp_sync.services.common import (
    enqueue_post,
    job_case_open,
    logger,
    release_jobs,
    save_job,
)
from erp_sync.services.dispatch import sync_jobs_create_for_event
from erp_sync.services.periods import jobs_release_reopened
from erp_sync.services.tuning import tuning_for


def sync_sweep(*, actor) -> dict[str, int]:
    """One pass of every sweep step; returns what each step did (counts)."""
    tuning = tuning_for()
    batch = int(tuning.sweep_batch)
    return {
        "dispatched": events_dispatch_lost(
            actor=actor, older_than=dt.timedelta(seconds=tuning.dispatch_grace_seconds)
        ),
        "reclaimed": jobs_reclaim_expired(actor=actor, limit=batch),
        "retries_due": jobs_enqueue_due(limit=batch),
        "stale_pending": jobs_enqueue_stale_pending(
            older_than=dt.timedelta(seconds=tuning.stale_pending_seconds), limit=batch
        ),
        "released": jobs_release_cleared(actor=actor, limit=batch),
        "parent_failed": jobs_flag_failed_parent(actor=actor, limit=batch),
        "reopened": jobs_release_reopened(actor=actor, limit=batch),
    }


def events_dispatch_lost(*, actor, older_than: dt.timedelta, limit: int = 500) -> int:
    """Dispatch events applied `older_than` ago that have no sync jobs yet (the outbox)."""
    count = 0
    for event in events_applied_undispatched(older_than=older_than, limit=limit):
        try:
            sync_jobs_create_for_event(event=event, actor=actor)
        except Exception:  # one bad event must not stop the sweep
            logger.exception("dispatch failed", extra={"event": event.pk})
            continue
        count += 1
    return count


def jobs_reclaim_expired(*, actor, limit: int = 1000) -> int:
    """in_flight jobs whose lease expired (their worker died) → pending, and enqueue them.

    The ERP call of the dead worker may have created the document: the next attempt finds
    it by external id instead of creating a second one.
    """
    now = timezone.now()
    with transaction.atomic():
        jobs = list(
            SyncJob.objects.select_for_update(skip_locked=True)
            .filter(state=SyncJobState.IN_FLIGHT, lease_expires_at__lt=now)
            .order_by("lease_expires_at")[:limit]
        )
        for job in jobs:
            job.reclaim()
            save_job(job, actor=actor, reason=f"lease expired during attempt {job.attempts}")
        enqueue_post([job.pk for job in jobs])
    return len(jobs)


def _enqueue_oldest(jobs: QuerySet[SyncJob], *, order_by: str, limit: int) -> int:
    """Re-send the task of the `limit` oldest jobs of `jobs` (by `order_by`); how many."""
    ids = list(jobs.order_by(order_by).values_list("pk", flat=True)[:limit])
    enqueue_post(ids)
    return len(ids)


def jobs_enqueue_due(*, limit: int = 1000) -> int:
    """Re-send the task of retry_wait jobs that are due (their message may be lost)."""
    return _enqueue_oldest(
        SyncJob.objects.filter(state=SyncJobState.RETRY_WAIT, next_attempt_at__lte=timezone.now()),
        order_by="next_attempt_at",
        limit=limit,
    )


def jobs_enqueue_stale_pending(*, older_than: dt.timedelta, limit: int = 1000) -> int:
    """Re-send the task of pending jobs nobody touched for `older_than` (a lost message)."""
    return _enqueue_oldest(
        SyncJob.objects.filter(
            state=SyncJobState.PENDING, updated_at__lte=timezone.now() - older_than
        ),
        order_by="updated_at",
        limit=limit,
    )


def jobs_release_cleared(*, actor, limit: int = 1000) -> int:
    """Release held jobs whose reason cleared, and move open circuits to half_open.

    paused → the connection is unpaused; maintenance → no window now; connection_open →
    the circuit closed (all of them), or it is half_open with no probe running (one, the
    oldest, becomes the probe); awaiting_parent → the parent job posted. closed_period
    holds are released by `jobs_release_reopened` when the ERP reopens the period (or a
    person moves them to the next open period).
    """
    now = timezone.now()
    released = 0
    for connection in Connection.objects.filter(is_active=True):
        if connection.circuit_state == CircuitState.OPEN and circuit.cooldown_over(connection, now):
            circuit.circuit_probe(connection_id=connection.pk, actor=actor)
            connection.refresh_from_db(fields=["circuit_state", "opened_at"])
        held = SyncJob.objects.filter(connection=connection, state=SyncJobState.HELD)
        if not connection.paused:
            released += release_jobs(
                held.filter(hold_reason=HoldReason.PAUSED),
                actor=actor,
                reason="connection resumed: released",
                limit=limit,
            )
        in_window = MaintenanceWindow.objects.filter(
            connection=connection, starts_at__lte=now, ends_at__gt=now
        ).exists()
        if not in_window:
            released += release_jobs(
                held.filter(hold_reason=HoldReason.MAINTENANCE),
                actor=actor,
                reason="maintenance window over: released",
                limit=limit,
            )
        circuit_held = held.filter(hold_reason=HoldReason.CONNECTION_OPEN)
        if connection.circuit_state == CircuitState.CLOSED:
            released += release_jobs(
                circuit_held, actor=actor, reason="circuit closed: released", limit=limit
            )
        elif connection.circuit_state == CircuitState.HALF_OPEN and not circuit.probe_active(
            connection
        ):
            released += release_jobs(
                circuit_held, actor=actor, reason="circuit half open: released as probe", limit=1
            )
    parents_posted = SyncJob.objects.filter(
        connection=OuterRef("connection"),
        external_id=OuterRef("parent_external_id"),
        state=SyncJobState.POSTED,
    )
    released += release_jobs(
        SyncJob.objects.filter(
            ~Q(parent_external_id=""),
            state=SyncJobState.HELD,
            hold_reason=HoldReason.AWAITING_PARENT,
        ).filter(Exists(parents_posted)),
        actor=actor,
        reason="parent posted: released",
        limit=limit,
    )
    return released


def jobs_flag_failed_parent(*, actor, limit: int = 1000) -> int:
    """Open (or bump) a `parent_failed` case on jobs held awaiting a dead or cancelled parent.

    Such a child is released only when its parent posts, which a dead or cancelled parent
    never does by itself: a person must replay (or cancel) the parent. A parent that is
    merely not posted yet is normal ordering and opens nothing. Returns how many cases were
    opened or bumped.
    """
    failed_parents = SyncJob.objects.filter(
        connection=OuterRef("connection"),
        external_id=OuterRef("parent_external_id"),
        state__in=(SyncJobState.DEAD, SyncJobState.CANCELLED),
    )
    children = list(
        SyncJob.objects.filter(
            ~Q(parent_external_id=""),
            state=SyncJobState.HELD,
            hold_reason=HoldReason.AWAITING_PARENT,
        )
        .filter(Exists(failed_parents))
        .select_related("event")
        .order_by("id")[:limit]
    )
    flagged = 0
    for child in children:
        parent = (
            SyncJob.objects.filter(
                connection_id=child.connection_id,
                external_id=child.parent_external_id,
                state__in=(SyncJobState.DEAD, SyncJobState.CANCELLED),
            )
            .only("pk", "state", "external_id")
            .first()
        )
        if parent is None:  # replayed since the query above
            continue
        with transaction.atomic():
            job_case_open(
                child,
                kind="parent_failed",
                title=(
                    f"{child.external_id} waits for parent job {parent.pk} "
                    f"({parent.external_id}), which is {parent.state}"
                ),
                detail={
                    "parent_job": parent.pk,
                    "parent_external_id": parent.external_id,
                    "parent_state": parent.state,
                },
                actor=actor,
            )
        flagged += 1
    return flagged
