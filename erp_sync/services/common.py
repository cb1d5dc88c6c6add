"""Helpers the job services share: enqueueing, billing status, cases, transitions."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Iterable
from decimal import Decimal

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
from exceptions.services import BlockedRecord, case_open_or_bump, cases_resolve_for_subject

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
CASE_SEVERITY = {"closed_period": "medium", "erp_unavailable": "high"}

# Failures whose cause is not the job itself but something many jobs share: one case per
# cause, listing the jobs it blocks (DESIGN.md, Case). Other failures are the job's own.
GROUPED_KINDS = ("mapping_missing", "closed_period", "erp_unavailable")

# Where an event's data names its document's business number, and its value.
NUMBER_FIELDS = (
    "invoice_id", "credit_note_id", "payment_id", "refund_id", "settlement_id", "payout_id"
)  # fmt: skip
VALUE_FIELDS = ("total", "amount")


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


def job_blocked_record(job: SyncJob, scope: dict[str, str]) -> BlockedRecord:
    """The job as an item of a grouped case: its document named by its business number
    ("invoice inv_1"), its value and currency, its customer and period."""
    data = job.event.data if isinstance(job.event.body, dict) else {}
    number = next((data[k] for k in NUMBER_FIELDS if data.get(k)), job.external_id)
    value = next((data[k] for k in VALUE_FIELDS if data.get(k) not in (None, "")), None)
    try:
        amount = Decimal(str(value)) if value is not None else None
    except ArithmeticError:
        amount = None
    return BlockedRecord(
        subject=job,
        label=f"{job.document_type.replace('_', ' ')} {number}",
        value_amount=amount,
        currency=str(data.get("currency") or ""),
        customer=scope.get("customer", ""),
        period=scope.get("period", ""),
    )


def _cause(job: SyncJob, kind: str, detail: dict, scope: dict) -> tuple[str, str] | None:
    """(cause key, title in finance words) of a grouped failure; None for a job's own."""
    connection = job.connection
    if kind == "mapping_missing":
        match = detail.get("match") or {}
        entity = match.get("entity") or scope["entity"]
        document_type = match.get("document_type") or job.document_type
        family = match.get("product_family") or ""
        account = match.get("account") or ""
        key = f"{connection.pk}:{entity}:{document_type}:{family}:{account}"
        what = f"{document_type.replace('_', ' ')} rule for {entity} / {family or 'any product'}"
        title = f"No {what}" + (f" giving a {account}" if account else "")
        return key, f"{title} ({connection.name})"
    if kind == "closed_period":
        period = scope["period"]
        try:
            month = dt.date.fromisoformat(f"{period}-01").strftime("%B %Y")
        except ValueError:
            month = period
        return f"{connection.pk}:{period}", f"{scope['entity']} {month} closed in {connection.name}"
    if kind == "erp_unavailable":
        return str(connection.pk), f"ERP {connection.name} unavailable: documents not posted"
    return None


def job_case_open(
    job: SyncJob, *, kind: str, title: str, detail: dict | None = None, actor=None
) -> None:
    """Open (or bump) the case of `kind` for `job`'s failure.

    A failure in GROUPED_KINDS goes to the one case of its cause (on the job's connection),
    with the job added to its blocked records; any other is a case on the job itself.
    """
    scope = case_scope(job)
    cause = _cause(job, kind, detail or {}, scope) if kind in GROUPED_KINDS else None
    if cause is None:
        case_open_or_bump(
            subject=job,
            kind=kind,
            severity=CASE_SEVERITY.get(kind, "high"),
            title=title,
            detail=detail,
            actor=actor,
            **scope,
        )
        return
    cause_key, cause_title = cause
    case_open_or_bump(
        subject=job.connection,
        kind=kind,
        cause_key=cause_key,
        severity=CASE_SEVERITY.get(kind, "high"),
        title=cause_title,
        detail={**(detail or {}), "connection": job.connection.name, "last_job": title},
        entity=scope["entity"],
        period=scope["period"] if kind == "closed_period" else "",
        item=job_blocked_record(job, scope),
        actor=actor,
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
