"""Helpers the job services share: enqueueing, billing status, cases, transitions."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Iterable

from django.db import transaction
from django.db.models import QuerySet
from django_fsm import TransitionNotAllowed

from billing.choices import ErpStatus
from billing.selectors import record_model_for_type
from billing.services import record_erp_status_set
from config.celery import app as celery_app
from config.fsm import transition_states
from config.history import stamp
from erp_sync.choices import SyncJobState
from erp_sync.documents import document_from_json
from erp_sync.errors import ErpSyncError
from erp_sync.models import SyncJob
from exceptions.services import case_open_or_bump, cases_resolve_for_subject

logger = logging.getLogger("erp_sync.jobs")

ERP_QUEUE = "erp"
# Services enqueue tasks by name (tasks import services, never the other way round).
POST_TASK = "erp_sync.post_job"

# What the posting claim does set-based: SyncJob.start, its source and target states as
# declared on the model.
STARTS = transition_states(SyncJob, "start")
STARTABLE = STARTS.sources
# A retry message may arrive a little before `next_attempt_at` (clocks, rounding).
EARLY_TOLERANCE = dt.timedelta(seconds=1)

# Status billing shows for each job state (cancelled: the document never reaches the ERP).
ERP_STATUS_BY_STATE = {
    SyncJobState.PENDING: ErpStatus.PENDING,
    SyncJobState.IN_FLIGHT: ErpStatus.PENDING,
    SyncJobState.RETRY_WAIT: ErpStatus.PENDING,
    SyncJobState.POSTED: ErpStatus.POSTED,
    SyncJobState.HELD: ErpStatus.HELD,
    SyncJobState.DEAD: ErpStatus.DEAD,
    SyncJobState.CANCELLED: ErpStatus.NOT_SENT,
}

# Where an event's data carries the date its document is booked on.
DATE_FIELDS = ("issue_date", "received_at", "issued_at", "approved_on", "effective_date")

# Severity of the case each failure opens; anything else is high.
CASE_SEVERITY = {"period_closed": "medium", "erp_unavailable": "high"}


class SyncJobError(ErpSyncError):
    """A refused operation on a sync job (illegal transition, reason missing, ...)."""


def eager() -> bool:
    """True when Celery runs tasks inline (no REDIS_URL): no countdowns, one task at a time."""
    return bool(celery_app.conf.task_always_eager)


def enqueue_post(job_ids: Iterable[int], *, countdown: float = 0.0) -> None:
    """Send `erp_sync.post_job` (by name, on queue "erp") for each job once the current
    transaction commits. When tasks run eagerly (no REDIS_URL) the signature resolves to the
    registered task, which runs inline.

    Duplicates are harmless: the task locks the job and checks its state first.
    """
    ids = list(job_ids)
    if not ids:
        return

    def send() -> None:
        for pk in ids:
            celery_app.signature(
                POST_TASK, kwargs={"job_id": pk}, queue=ERP_QUEUE, countdown=countdown or None
            ).apply_async()

    transaction.on_commit(send)


def backoff_seconds(*, attempts: int, base: float, cap: float, retry_after: float | None) -> float:
    """Exponential backoff with full jitter, at least `retry_after` (a 429), at most `cap`."""
    countdown = base * (2 ** max(attempts, 0)) * random.random()
    if retry_after:
        countdown = max(countdown, float(retry_after))
    return max(min(countdown, cap), 0.0)


def erp_status_sync(job: SyncJob, *, actor) -> None:
    """Tell billing where the job's record stands (a no-op for events without a record)."""
    if record_model_for_type(job.event.type) is None:
        return
    record_erp_status_set(
        event=job.event,
        status=ERP_STATUS_BY_STATE[job.state],
        document_number=job.erp_number,
        document_id=job.erp_id,
        actor=actor,
    )


def transition(job: SyncJob, name: str, **kwargs) -> None:
    """Run FSM transition `name`; an illegal one is a SyncJobError (409)."""
    try:
        getattr(job, name)(**kwargs)
    except TransitionNotAllowed:
        raise SyncJobError(
            f"cannot {name.replace('_', ' ')} a job that is {job.state}",
            code="illegal_transition",
        ) from None


JOB_FIELDS = [
    "state",
    "hold_reason",
    "attempts",
    "earlier_attempts",
    "next_attempt_at",
    "lease_expires_at",
    "erp_id",
    "erp_number",
    "posted_at",
    "last_error",
    "last_error_code",
    "cancel_reason",
    "updated_at",
]


def save_job(job: SyncJob, *, actor, reason: str, fields: list[str] | None = None) -> None:
    stamp(job, actor=actor, reason=reason[:100])
    job.save(update_fields=fields or JOB_FIELDS)


def case_scope(job: SyncJob) -> dict[str, str]:
    """entity / customer / period of the case a job's failure opens."""
    data = job.event.data if isinstance(job.event.body, dict) else {}
    period = ""
    customer = data.get("customer_id", "") or ""
    if job.document:
        try:
            document = document_from_json(job.document)
            period = document.document_date.strftime("%Y-%m")
            customer = customer or document.party.code
        except (KeyError, ValueError, TypeError):
            period = ""
    if not period:
        # No document (it could not be built): the event's own document date.
        dated = next((data[k] for k in DATE_FIELDS if isinstance(data.get(k), str)), "")
        period = dated[:7] if len(dated) >= 7 else job.event.event_time.strftime("%Y-%m")
    return {"entity": job.event.entity, "customer": customer, "period": period}


def job_case_open(
    job: SyncJob, *, kind: str, title: str, detail: dict | None = None, actor=None
) -> None:
    """Open (or bump) the case of `kind` on `job`."""
    case_open_or_bump(
        subject=job,
        kind=kind,
        severity=CASE_SEVERITY.get(kind, "high"),
        title=title,
        detail=detail,
        actor=actor,
        **case_scope(job),
    )


def job_cases_resolve(job: SyncJob, *, actor, reason: str) -> int:
    return cases_resolve_for_subject(subject=job, actor=actor, reason=reason)


def release_jobs(jobs: QuerySet[SyncJob], *, actor, reason: str, limit: int | None = None) -> int:
    """Release held jobs of `jobs` (held → pending) and enqueue them; returns how many.

    Locks with skip_locked, so two sweepers never release the same job twice. Inside the
    caller's transaction when there is one (no savepoint: nothing here can fail halfway).
    """
    with transaction.atomic(savepoint=False):
        queryset = (
            jobs.filter(state=SyncJobState.HELD)
            .select_for_update(skip_locked=True, of=("self",))
            .select_related("event")
            .order_by("id")
        )
        if limit is not None:
            queryset = queryset[:limit]
        released = []
        for job in queryset:
            job.release()
            save_job(job, actor=actor, reason=reason)
            erp_status_sync(job, actor=actor)
            released.append(job.pk)
        enqueue_post(released)
    return len(released)
