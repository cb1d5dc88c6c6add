"""(e) What a failed call does to its job: retry with backoff, hold (awaiting parent, circuit
open, closed period), move to the next open period, or dead with a case."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from erp_sync.adapters.base import (
    ErpError,
    NonRetryableError,
    ParentMissingError,
    PeriodClosedError,
    UnparseableResponseError,
)
from erp_sync.builders import build_document
from erp_sync.choices import AttemptOutcome, CircuitState, ClosedPeriodPolicy, HoldReason
from erp_sync.documents import document_from_json, document_to_json
from erp_sync.errors import ErpSyncError
from erp_sync.models import Connection, SyncAttempt, SyncJob
from erp_sync.services import circuit
from erp_sync.services.common import (
    backoff_seconds,
    enqueue_post,
    erp_status_sync,
    job_case_open,
    save_job,
)
from erp_sync.services.posting.calls import jsonable
from erp_sync.services.posting.holds import connection_recovered, hold_locked
from erp_sync.services.tuning import Tuning
from exceptions.services import case_open_or_bump


def _error_response(error: ErpError) -> dict:
    response: dict[str, Any] = {"error": error.message, "code": error.code}
    if error.raw is not None:
        response["raw"] = error.raw if isinstance(error.raw, dict | list) else str(error.raw)
    if error.retry_after:
        response["retry_after"] = error.retry_after
    return jsonable(response)


def on_error(
    job: SyncJob,
    connection: Connection,
    tuning: Tuning,
    error: ErpError,
    attempt: SyncAttempt,
    *,
    actor,
) -> str:
    attempt.error_message = error.message[:5000]
    attempt.response = _error_response(error)
    message = f"{type(error).__name__}: {error.message}"[:2000]

    # A refusal is an answer: the ERP is up, whatever this document's fate.
    answered = isinstance(error, NonRetryableError) and not isinstance(
        error, UnparseableResponseError
    )
    if answered and circuit.circuit_record_success(connection=connection, actor=actor):
        connection_recovered(connection, actor=actor)
    if isinstance(error, PeriodClosedError):
        return _on_period_closed(job, connection, error, attempt, actor=actor)
    if isinstance(error, ParentMissingError):
        attempt.outcome = AttemptOutcome.HELD
        job.last_error, job.last_error_code = message, error.code
        hold_locked(job, reason=HoldReason.AWAITING_PARENT, actor=actor)
        return "held"
    if isinstance(error, NonRetryableError):
        attempt.outcome = AttemptOutcome.DEAD
        kind = "erp_unparseable" if isinstance(error, UnparseableResponseError) else error.code
        _dead(job, error=message, code=kind, actor=actor, detail=attempt.response)
        return "dead"

    # Retryable: count it against the circuit first.
    state = circuit.circuit_record_failure(connection_id=connection.pk, error=message, actor=actor)
    if state == CircuitState.OPEN:
        if connection.circuit_state != CircuitState.OPEN:
            _circuit_case(connection, message, actor=actor)
        attempt.outcome = AttemptOutcome.HELD
        job.last_error, job.last_error_code = message, error.code
        hold_locked(job, reason=HoldReason.CONNECTION_OPEN, actor=actor)
        return "held"
    if job.attempts >= job.max_attempts:
        attempt.outcome = AttemptOutcome.DEAD
        _dead(
            job,
            error=f"{job.attempts} attempts failed; last: {message}",
            code="erp_unavailable",
            actor=actor,
            detail=attempt.response,
        )
        return "dead"
    attempt.outcome = AttemptOutcome.RETRY
    countdown = backoff_seconds(
        attempts=job.attempts - 1,
        base=tuning.retry_base_seconds,
        cap=tuning.max_countdown,
        retry_after=error.retry_after,
    )
    job.schedule_retry(
        error=message,
        code=error.code,
        next_attempt_at=timezone.now() + dt.timedelta(seconds=countdown),
    )
    save_job(job, actor=actor, reason=f"attempt {job.attempts} failed, retry in {countdown:.0f}s")
    erp_status_sync(job, actor=actor)
    enqueue_post([job.pk], countdown=countdown)
    return "retry"


def _circuit_case(connection: Connection, message: str, *, actor) -> None:

    case_open_or_bump(
        subject=connection,
        kind="circuit_open",
        severity="high",
        title=f"ERP connection {connection.name} is failing: posting paused",
        detail={"error": message},
        entity=connection.entity.code,
        actor=actor,
    )


def _on_period_closed(
    job: SyncJob, connection: Connection, error: PeriodClosedError, attempt: SyncAttempt, *, actor
) -> str:
    message = f"{type(error).__name__}: {error.message}"[:2000]
    document = document_from_json(job.document)
    moved_already = bool(job.posting_date)
    if connection.closed_period_policy == ClosedPeriodPolicy.POST_NEXT_OPEN and not moved_already:
        first_of_next = (document.document_date.replace(day=1) + dt.timedelta(days=32)).replace(
            day=1
        )
        try:
            built = build_document(
                event=job.event, connection=connection, posting_date=first_of_next
            )
        except ErpSyncError as build_error:
            attempt.outcome = AttemptOutcome.DEAD
            _dead(job, error=build_error.message, code=build_error.code, actor=actor)
            return "dead"
        attempt.outcome = AttemptOutcome.RETRY
        job.document = document_to_json(built.document)
        job.posting_date = first_of_next
        job.schedule_retry(error=message, code=error.code, next_attempt_at=timezone.now())
        save_job(
            job,
            actor=actor,
            reason=f"period closed: moved to {first_of_next.isoformat()}",
            fields=[
                "state",
                "document",
                "posting_date",
                "last_error",
                "last_error_code",
                "next_attempt_at",
                "lease_expires_at",
                "updated_at",
            ],
        )
        job.mapping_rules.set(built.rules)
        enqueue_post([job.pk])
        return "retry"
    attempt.outcome = AttemptOutcome.HELD
    job.last_error, job.last_error_code = message, error.code
    hold_locked(job, reason=HoldReason.CLOSED_PERIOD, actor=actor)
    job_case_open(
        job,
        kind="closed_period",
        title=f"{job.document_type} {job.external_id}: period {document.document_date:%Y-%m} "
        "is closed in the ERP",
        detail={
            "error": error.message,
            "document_date": document.document_date.isoformat(),
            "policy": connection.closed_period_policy,
        },
        actor=actor,
    )
    return "held"


def _dead(job: SyncJob, *, error: str, code: str, actor, detail: dict | None = None) -> None:
    job.dead_letter(error=error, code=code)
    save_job(job, actor=actor, reason=f"dead: {code}")
    erp_status_sync(job, actor=actor)
    job_case_open(
        job,
        kind=code,
        title=f"{job.document_type} {job.external_id} could not be posted: {code}",
        detail={"error": error, **({"response": detail} if detail else {})},
        actor=actor,
    )
