"""(e) Recording a batch: every attempt and outcome in one transaction, the posted jobs
set-based; a job taken over after its lease expired is left alone ("stale")."""

from __future__ import annotations

import copy
import logging

from django.db import transaction
from django_fsm import ConcurrentTransition

from billing.models import FinanceEvent
from billing.services import records_erp_status_set_many
from config.history import stamp
from erp_sync.adapters.base import PostResult
from erp_sync.choices import AttemptOutcome, SyncJobState
from erp_sync.models import Connection, SyncAttempt, SyncJob
from erp_sync.services import circuit
from erp_sync.services.batch_writes import jobs_save_many
from erp_sync.services.common import ERP_STATUS_BY_STATE, enqueue_post, job_cases_resolve
from erp_sync.services.posting.calls import Call, jsonable
from erp_sync.services.posting.failures import on_error
from erp_sync.services.posting.holds import connection_recovered, release_children_many
from erp_sync.services.tuning import Tuning
from erp_sync.signals import documents_posted

log = logging.getLogger(__name__)


# What a batch start and a batch of posted jobs write (besides updated_at).
POSTED_FIELDS = [
    "state",
    "erp_id",
    "erp_number",
    "posted_at",
    "lease_expires_at",
    "last_error",
    "last_error_code",
]


GIVE_BACK_FIELDS = ["state", "attempts", "lease_expires_at"]


def batch_finish(
    jobs: list[SyncJob], calls: list[Call], connection: Connection, tuning: Tuning, *, actor
) -> dict[int, str]:
    """(e) Record every attempt and act on its outcome, in one transaction; outcome per job.

    A job whose row is no longer this attempt's (taken over after its lease expired: the
    sweeper reclaimed it, and maybe another task started it again) is left alone and
    reported "stale". The set-based writes check each row's saved state again
    (`jobs_save_many` raises ConcurrentTransition for a row that moved on): should a row
    move between the check and the write, nothing of the batch is written, and the batch is
    recorded once more from the jobs as claimed, checked afresh, so the moved row is stale.
    """
    # The claim returned the jobs alone: their events (type and ids: billing's record and
    # history reason) in one query, the bodies only if an error path reads them.
    events = FinanceEvent.objects.defer("body", "result").in_bulk({j.event_id for j in jobs})
    for job in jobs:
        job.event = events[job.event_id]
    try:
        with transaction.atomic():
            return _record([copy.copy(job) for job in jobs], calls, connection, tuning, actor)
    except ConcurrentTransition as error:
        log.warning(
            "batch rows moved on while recorded; recording again", extra={"error": str(error)}
        )
        with transaction.atomic():
            return _record([copy.copy(job) for job in jobs], calls, connection, tuning, actor)


def current_attempts(jobs: list[SyncJob]) -> dict[int, tuple[str, int]]:
    """Lock the jobs' rows; (state, attempts) of each as it is now."""
    return {
        pk: (state, attempts)
        for pk, state, attempts in SyncJob.objects.select_for_update(of=("self",))
        .filter(pk__in=[job.pk for job in jobs])
        .order_by("id")
        .values_list("pk", "state", "attempts")
    }


def _record(
    jobs: list[SyncJob], calls: list[Call], connection: Connection, tuning: Tuning, actor
) -> dict[int, str]:
    outcomes: dict[int, str] = {}
    # Each row must still be this attempt's: in flight with the attempt number the claim
    # gave it. The state alone is not enough: a job reclaimed and started again by another
    # task is in flight too, with a higher attempt number. The rest of the job is what
    # `batch_start` read and wrote under its own lock: while in flight only the lease
    # sweeper (reclaim: state changes) or a later attempt (attempts changes) may touch it.
    current = current_attempts(jobs)
    called = dict(zip((job.pk for job in jobs), calls, strict=False))
    attempts: list[SyncAttempt] = []
    posted: list[SyncJob] = []
    troubled: list[SyncJob] = []
    failed: list[tuple[SyncJob, Call, SyncAttempt]] = []
    not_called: list[SyncJob] = []
    for job in jobs:
        if current.get(job.pk) != (SyncJobState.IN_FLIGHT, job.attempts):
            log.warning(
                "job taken over after its lease expired; outcome dropped",
                extra={"job": job.pk, "attempt": job.attempts, "now": current.get(job.pk)},
            )
            outcomes[job.pk] = "stale"
            continue
        call = called.get(job.pk)
        if call is None:
            not_called.append(job)
            continue
        attempt = SyncAttempt(
            job=job,
            number=job.earlier_attempts + job.attempts,
            started_at=call.started_at,
            duration_ms=call.duration_ms,
            request_digest=call.digest,
            error_class=call.error_class,
        )
        attempts.append(attempt)
        if call.error is not None:
            failed.append((job, call, attempt))
            continue
        # A job that failed before may have cases open; a clean first post cannot.
        if job.last_error_code or job.attempts > 1:
            troubled.append(job)
        _succeed(job, call.result, attempt, actor=actor)
        posted.append(job)
        outcomes[job.pk] = "posted"
    # Successes first: a retryable failure (it ends a batch) must count against the
    # circuit after them, as the calls happened.
    if posted:
        _posted_write(posted, troubled, connection, actor=actor)
    for job, call, attempt in failed:
        outcomes[job.pk] = on_error(job, connection, tuning, call.error, attempt, actor=actor)
    # After the failures: a child called before its parent in this batch is held by now,
    # and is released as the one-job path releases it when the parent posts.
    release_children_many(posted, connection, actor=actor)
    SyncAttempt.objects.bulk_create(attempts)
    if not_called:
        _give_back(not_called, tuning, actor=actor)
        outcomes.update(dict.fromkeys((job.pk for job in not_called), "requeued"))
    return outcomes


def _succeed(job: SyncJob, result: PostResult, attempt: SyncAttempt, *, actor) -> None:
    attempt.outcome = AttemptOutcome.POSTED if result.created else AttemptOutcome.FOUND_EXISTING
    attempt.erp_reference = result.number or result.erp_id
    attempt.response = {"erp_id": result.erp_id, "number": result.number, "created": result.created}
    if result.raw:
        attempt.response = jsonable(attempt.response | {"raw": result.raw})
    job.succeed(erp_id=result.erp_id, erp_number=result.number)
    how = "posted" if result.created else "found already in the ERP"
    stamp(job, actor=actor, reason=f"{how} as {result.number}")


def _posted_write(
    posted: list[SyncJob], troubled: list[SyncJob], connection: Connection, *, actor
) -> None:
    """Posted jobs: their rows, history and billing statuses set-based; then the circuit
    and the cases of those that had failed before."""
    jobs_save_many(posted, fields=POSTED_FIELDS)
    records_erp_status_set_many(
        [(job.event, ERP_STATUS_BY_STATE[job.state], job.erp_number, job.erp_id) for job in posted],
        actor=actor,
    )
    documents_posted.send(sender=SyncJob, jobs=posted, actor=actor)
    if circuit.circuit_record_success(connection=connection, actor=actor):
        connection_recovered(connection, actor=actor)
    for job in troubled:
        # A job moved out of a closed period says where it went.
        into = f" into {job.posting_date:%Y-%m}" if job.posting_date else ""
        job_cases_resolve(job, actor=actor, reason=f"posted as {job.erp_number}{into}")


def _give_back(jobs: list[SyncJob], tuning: Tuning, *, actor) -> None:
    """Claimed jobs the batch did not call (it stopped): back to pending, the attempt that
    was not made uncounted, and enqueued again."""
    for job in jobs:
        job.reclaim()
        stamp(job, actor=actor, reason=f"attempt {job.attempts} not made: batch stopped")
        job.attempts -= 1
    jobs_save_many(jobs, fields=GIVE_BACK_FIELDS)
    enqueue_post([job.pk for job in jobs], countdown=tuning.requeue_seconds)
