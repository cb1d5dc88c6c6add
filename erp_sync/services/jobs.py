"""What people do to sync jobs: replay (one or many) and cancel. Each is audited.

The posting engine is in `posting`, the dispatcher in `dispatch`, the sweeper in `sweeper`;
they are re-exported here so callers have one import.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet

from erp_sync.builders import build_document
from erp_sync.choices import HoldReason, SyncJobState
from erp_sync.documents import document_to_json
from erp_sync.errors import ErpSyncError
from erp_sync.models import SyncJob
from erp_sync.services.common import (
    SyncJobError,
    enqueue_post,
    erp_status_sync,
    job_case_open,
    job_cases_resolve,
    save_job,
    transition,
)
from erp_sync.services.dispatch import sync_jobs_create_for_event
from erp_sync.services.periods import job_posting_day, period_open
from erp_sync.services.posting import job_hold, job_post, jobs_release_children

__all__ = [
    "SyncJobError",
    "job_cancel",
    "job_hold",
    "job_post",
    "job_replay",
    "jobs_release_children",
    "jobs_replay",
    "sync_jobs_create_for_event",
]

# A dead job with one of these codes gets its document rebuilt on replay (the rule fixed).
REBUILD_CODES = ("mapping_missing", "unbalanced_document", "record_missing", "erp_rejected")


@dataclass(frozen=True)
class ReplayResult:
    job: SyncJob
    replayed: bool
    message: str


def _rebuild(job: SyncJob) -> tuple[dict, list] | None:
    """A fresh document for a job whose failure was the document itself, else None.

    Raises ErpSyncError (mapping_missing, ...) when the document still cannot be built.
    """
    if job.state != SyncJobState.DEAD or job.last_error_code not in REBUILD_CODES:
        return None
    built = build_document(
        event=job.event, connection=job.connection, posting_date=job.posting_date
    )
    return document_to_json(built.document), list(built.rules)


def job_replay(*, job: SyncJob, actor, reason: str = "") -> ReplayResult:
    """Send a dead (or held) job to the ERP again: dead → pending, held → pending.

    A job that failed on its document (mapping missing, unbalanced, rejected by the ERP) has
    the document rebuilt from the current rules first; if that still fails, the job stays
    dead, its case is bumped and SyncJobError(code=<the failure>) is raised. A posted job is
    left alone: replayed=False with "already posted as <number>" (idempotent). Cancelled
    or in-flight jobs raise SyncJobError(code="illegal_transition"). A job held by a closed
    period whose period the ERP still reports closed is left held, nothing written, and
    SyncJobError(code="period_closed") says the replay cannot succeed.
    """
    job = SyncJob.objects.select_related("event", "connection").get(pk=job.pk)
    if job.state == SyncJobState.POSTED:
        return ReplayResult(job, False, f"already posted as {job.erp_number}")
    refuse_while_period_closed(job)
    try:
        rebuilt = _rebuild(job)
    except ErpSyncError as error:
        with transaction.atomic():
            job_case_open(
                job,
                kind=error.code,
                title=f"replay of {job.external_id} failed: {error.code}",
                detail={"error": error.message, "match": getattr(error, "match", None)},
                actor=actor,
            )
        raise SyncJobError(
            f"still cannot build the document: {error.message}", code=error.code
        ) from error
    with transaction.atomic():
        job = (
            SyncJob.objects.select_for_update(of=("self",))
            .select_related("event", "connection")
            .get(pk=job.pk)
        )
        if job.state == SyncJobState.POSTED:
            return ReplayResult(job, False, f"already posted as {job.erp_number}")
        if job.state in (SyncJobState.PENDING, SyncJobState.RETRY_WAIT):
            enqueue_post([job.pk])
            return ReplayResult(job, False, f"already queued ({job.state})")
        fields = None
        if job.state == SyncJobState.HELD:
            what = f"released by hand (was held: {job.hold_reason or 'unknown'})"
            transition(job, "release")
        else:
            transition(job, "replay")
            what = "replayed"
            if rebuilt is not None:
                job.document, rules = rebuilt
                job.mapping_rules.set(rules)
                what = "replayed with a rebuilt document"
                fields = [
                    "document",
                    "state",
                    "attempts",
                    "earlier_attempts",
                    "next_attempt_at",
                    "updated_at",
                ]
        text = f"{what}: {reason}" if reason else what
        save_job(job, actor=actor, reason=text, fields=fields)
        erp_status_sync(job, actor=actor)
        enqueue_post([job.pk])
    return ReplayResult(job, True, f"{job.external_id} {what}")


def refuse_while_period_closed(job: SyncJob) -> None:
    """Raise SyncJobError(code="period_closed") when `job` is held by a closed period that
    the ERP still reports closed: released, it would only be held again at once. When the
    ERP cannot tell, the replay goes ahead (it is held again if the period is closed)."""
    if job.state != SyncJobState.HELD or job.hold_reason != HoldReason.CLOSED_PERIOD:
        return
    day = job_posting_day(job)
    if day is None or period_open(job.connection, day) is not False:
        return
    raise SyncJobError(
        f"The period {day:%Y-%m} is still closed in the ERP of {job.connection.name}: a replay "
        "cannot succeed. Post the document into the next open period from its closed-period "
        "case, or wait: it is released when the ERP reopens the period.",
        code="period_closed",
    )


def jobs_replay(*, jobs: QuerySet[SyncJob], actor, reason: str = "") -> dict[str, int]:
    """Replay every job of `jobs` (e.g. all dead with last_error_code mapping_missing).

    Returns counts: replayed, already_posted, failed (still cannot be built), skipped
    (a state that cannot be replayed). Each job is its own transaction.
    """
    counts = dict.fromkeys(REPLAY_OUTCOMES, 0)
    ids = list(jobs.order_by("id").values_list("pk", flat=True))
    for job in SyncJob.objects.filter(pk__in=ids).order_by("id").only("pk"):
        counts[job_replay_outcome(job=job, actor=actor, reason=reason)] += 1
    return counts


REPLAY_OUTCOMES = ("replayed", "already_posted", "failed", "skipped")


def job_replay_outcome(*, job: SyncJob, actor, reason: str = "") -> str:
    """`job_replay` for one job of many: which of REPLAY_OUTCOMES it had, never raising a
    SyncJobError (failed: the document still cannot be built; skipped: a state that cannot
    be replayed, or already queued)."""
    try:
        result = job_replay(job=job, actor=actor, reason=reason)
    except SyncJobError as error:
        return "skipped" if error.code == "illegal_transition" else "failed"
    if result.replayed:
        return "replayed"
    if result.job.state == SyncJobState.POSTED:
        return "already_posted"
    return "skipped"


def job_cancel(*, job: SyncJob, actor, reason: str) -> SyncJob:
    """A person decided this document must not reach the ERP: pending/held/dead → cancelled.

    `reason` is required (SyncJobError code "reason_required", 400). Idempotent on a
    cancelled job; any other state raises SyncJobError(code="illegal_transition"). The
    record's ERP status goes back to not_sent and the job's open cases are resolved.
    """
    reason = (reason or "").strip()
    if not reason:
        raise SyncJobError(
            "a reason is required to cancel a job",
            code="reason_required",
            field="reason",
            status=400,
        )
    with transaction.atomic():
        job = SyncJob.objects.select_for_update(of=("self",)).select_related("event").get(pk=job.pk)
        if job.state == SyncJobState.CANCELLED:
            return job
        transition(job, "cancel", reason=reason[:300])
        save_job(job, actor=actor, reason=f"cancelled: {reason}")
        erp_status_sync(job, actor=actor)
        job_cases_resolve(job, actor=actor, reason=f"job cancelled: {reason}")
    return job
