"""Posting one sync job to its ERP: gate, slot, lease, call, outcome.

`job_post` is what the `erp_sync.post_job` task runs. It is safe to run any number of times
for one job, concurrently, from any worker:

(a) a short transaction locks the job NOWAIT (another worker has it: return), checks the
    state (not pending / due retry_wait: return, so a duplicate message is a no-op), and
    starts it with a lease; before that the connection gate may hold the job (paused,
    maintenance window, circuit open: no call reaches the ERP) and a semaphore slot is
    taken (never more than `max_concurrency` calls in flight to one ERP);
(b) the adapter is called OUTSIDE any transaction; it looks the document up by external id
    before creating it, so a job whose last worker died after the ERP created the document
    just finds it;
(c) a new transaction records the `SyncAttempt` and the outcome: posted (children
    released, cases resolved), retry with backoff, held, or dead with a case. The slot is
    released as soon as the call returns (try/finally) and expires by itself if the worker
    is killed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from django.db import OperationalError, transaction
from django.utils import timezone

from erp_sync import semaphore
from erp_sync.adapters.base import (
    ErpError,
    NonRetryableError,
    ParentMissingError,
    PeriodClosedError,
    PostResult,
    RetryableError,
    UnparseableResponseError,
)
from erp_sync.adapters.registry import adapter_for
from erp_sync.builders import build_document
from erp_sync.choices import (
    AttemptOutcome,
    CircuitState,
    ClosedPeriodPolicy,
    HoldReason,
    SyncJobState,
)
from erp_sync.documents import document_from_json, document_to_json
from erp_sync.errors import ErpSyncError
from erp_sync.models import Connection, SyncAttempt, SyncJob
from erp_sync.services import circuit
from erp_sync.services.common import (
    backoff_seconds,
    eager,
    enqueue_post,
    erp_status_sync,
    job_case_open,
    job_cases_resolve,
    release_jobs,
    save_job,
    transition,
)
from erp_sync.services.tuning import Tuning, tuning_for
from exceptions.services import cases_resolve_for_subject

STARTABLE = (SyncJobState.PENDING, SyncJobState.RETRY_WAIT)
# A retry message may arrive a little before `next_attempt_at` (clocks, rounding).
EARLY_TOLERANCE = dt.timedelta(seconds=1)

log = logging.getLogger(__name__)


@dataclass
class Call:
    """What one adapter call did."""

    started_at: dt.datetime
    duration_ms: int
    digest: str
    result: PostResult | None = None
    error: ErpError | None = None
    error_class: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def request_digest(document: dict) -> str:
    """sha256 of the document's canonical JSON: what exactly was sent."""
    payload = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return repr(value)


def job_post(*, job_id: int, actor) -> str:
    """Try to post job `job_id` once; returns what happened (for logs and tests).

    Outcomes: "missing", "skipped" (not startable: a duplicate message, or another worker
    holds it), "not_due", "held", "no_slot" (re-enqueued), "posted", "retry", "dead",
    "stale" (the lease expired and someone else took the job over). Idempotent: the ERP
    receives a document at most once per job however often this runs.
    """
    # One read: the job's state and its connection with the maintenance-window flag.
    job = (
        SyncJob.objects.filter(pk=job_id)
        .select_related("connection")
        .defer("document")
        .annotate(in_window=circuit.window_now("connection_id"))
        .first()
    )
    if job is None:
        return "missing"
    if job.state not in STARTABLE:
        return "skipped"
    if (
        job.state == SyncJobState.RETRY_WAIT
        and job.next_attempt_at
        and job.next_attempt_at > timezone.now() + EARLY_TOLERANCE
    ):
        return "not_due"
    connection = job.connection
    connection.in_window = job.in_window
    tuning = tuning_for(connection)
    gate = circuit.connection_gate(connection, actor=actor, lease_seconds=tuning.lease_seconds)
    if not gate.open:
        job_hold(job_id=job_id, reason=gate.hold_reason, actor=actor)
        return "held"
    try:
        return _post_with_slot(job_id, connection, tuning, gate, actor)
    finally:
        if gate.probe_token:
            circuit.probe_release(connection)


def _post_with_slot(
    job_id: int, connection: Connection, tuning: Tuning, gate: circuit.Gate, actor
) -> str:
    token = semaphore.acquire(
        connection,
        ttl=tuning.lease_seconds,
        wait=0.0 if eager() else tuning.slot_wait_seconds,
    )
    if token is None:
        # Every slot is busy: leave the job pending and come back shortly. In eager mode the
        # sweeper re-drives it instead (re-running inline would recurse).
        if not eager():
            enqueue_post([job_id], countdown=tuning.requeue_seconds * (1 + random.random()))
        return "no_slot"
    call = None
    try:
        started = _job_start(job_id, tuning=tuning, probe=bool(gate.probe_token), actor=actor)
        if started is None:
            return "skipped"
        if isinstance(started, str):
            return started
        call = _call_erp(connection, started)
    finally:
        semaphore.release(connection, token)
    return _job_finish(started, connection, tuning, call, actor=actor)


def _job_start(job_id: int, *, tuning: Tuning, probe: bool, actor) -> SyncJob | str | None:
    """(a) Lock (NOWAIT), re-check, start with a lease. None: not ours to post now."""
    try:
        with transaction.atomic():
            job = (
                SyncJob.objects.select_for_update(nowait=True, of=("self",))
                .select_related("event", "connection")
                .get(pk=job_id)
            )
            if job.state not in STARTABLE:
                return None
            # The circuit as of this lock (joined above): it may have tripped since the gate.
            state = job.connection.circuit_state
            if state == CircuitState.OPEN or (state == CircuitState.HALF_OPEN and not probe):
                _hold_locked(job, reason=HoldReason.CONNECTION_OPEN, actor=actor)
                return "held"
            lease = timezone.now() + dt.timedelta(seconds=tuning.lease_seconds)
            job.start(lease_expires_at=lease)
            save_job(job, actor=actor, reason=f"attempt {job.attempts} started")
            return job
    except OperationalError:
        # NOWAIT: another worker holds the row lock; it will post the job.
        return None
    except SyncJob.DoesNotExist:
        return None


def _call_erp(connection: Connection, job: SyncJob) -> Call:
    """(b) The one ERP call, outside any transaction."""
    started_at = timezone.now()
    digest = request_digest(job.document)
    clock = time.monotonic()
    call = Call(started_at=started_at, duration_ms=0, digest=digest)
    try:
        adapter = adapter_for(connection)
        call.result = adapter.post(document_from_json(job.document))
    except ErpError as error:
        call.error = error
        call.error_class = type(error).__name__
    except Exception as error:  # an adapter bug must not lose the job
        log.exception("adapter raised an unclassified error", extra={"job": job.pk})
        call.error = RetryableError(f"{type(error).__name__}: {error}")
        call.error_class = type(error).__name__
    call.duration_ms = int((time.monotonic() - clock) * 1000)
    return call


def _job_finish(
    started: SyncJob, connection: Connection, tuning: Tuning, call: Call, *, actor
) -> str:
    """(c) Record the attempt and act on the outcome, in one transaction."""
    with transaction.atomic():
        # Lock the row and check it is still this attempt's (state + attempt number); the
        # rest of the job is what `_job_start` read and wrote under its own lock, so it is
        # not read again: while in flight only the lease sweeper (reclaim: state changes)
        # or a later attempt (attempts changes) may touch it.
        current = (
            SyncJob.objects.select_for_update(of=("self",))
            .filter(pk=started.pk)
            .values_list("state", "attempts")
            .first()
        )
        if current != (SyncJobState.IN_FLIGHT, started.attempts):
            log.warning(
                "job taken over after its lease expired; outcome dropped",
                extra={"job": started.pk, "attempt": started.attempts},
            )
            return "stale"
        job = started
        attempt = SyncAttempt(
            job=job,
            number=job.attempts,
            started_at=call.started_at,
            duration_ms=call.duration_ms,
            request_digest=call.digest,
            error_class=call.error_class,
        )
        if call.error is None:
            outcome = _on_success(job, connection, call.result, attempt, actor=actor)
        else:
            outcome = _on_error(job, connection, tuning, call.error, attempt, actor=actor)
        attempt.save()
    return outcome


def _on_success(
    job: SyncJob, connection: Connection, result: PostResult, attempt: SyncAttempt, *, actor
) -> str:
    attempt.outcome = AttemptOutcome.POSTED if result.created else AttemptOutcome.FOUND_EXISTING
    attempt.erp_reference = result.number or result.erp_id
    attempt.response = _jsonable(
        {"erp_id": result.erp_id, "number": result.number, "created": result.created}
        | ({"raw": result.raw} if result.raw else {})
    )
    # A job that failed before may have cases open; a clean first post cannot.
    had_trouble = bool(job.last_error_code) or job.attempts > 1
    job.succeed(erp_id=result.erp_id, erp_number=result.number)
    how = "posted" if result.created else "found already in the ERP"
    save_job(job, actor=actor, reason=f"{how} as {result.number}")
    erp_status_sync(job, actor=actor)
    if circuit.circuit_record_success(connection=connection, actor=actor):
        _connection_recovered(connection, actor=actor)
    jobs_release_children(job=job, actor=actor)
    if had_trouble:
        job_cases_resolve(job, actor=actor, reason=f"posted as {result.number}")
    return "posted"


def _connection_recovered(connection: Connection, *, actor) -> None:
    """The circuit closed: release what it held and resolve the connection's case."""
    from exceptions.services import cases_resolve_for_subject

    release_jobs(
        SyncJob.objects.filter(connection=connection, hold_reason=HoldReason.CONNECTION_OPEN),
        actor=actor,
        reason="circuit closed: released",
    )
    cases_resolve_for_subject(
        subject=connection, actor=actor, reason="the ERP answered again", kinds=["circuit_open"]
    )


def _error_response(error: ErpError) -> dict:
    response: dict[str, Any] = {"error": error.message, "code": error.code}
    if error.raw is not None:
        response["raw"] = error.raw if isinstance(error.raw, dict | list) else str(error.raw)
    if error.retry_after:
        response["retry_after"] = error.retry_after
    return _jsonable(response)


def _on_error(
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
        _connection_recovered(connection, actor=actor)
    if isinstance(error, PeriodClosedError):
        return _on_period_closed(job, connection, error, attempt, actor=actor)
    if isinstance(error, ParentMissingError):
        attempt.outcome = AttemptOutcome.HELD
        job.last_error, job.last_error_code = message, error.code
        _hold_locked(job, reason=HoldReason.AWAITING_PARENT, actor=actor)
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
        _hold_locked(job, reason=HoldReason.CONNECTION_OPEN, actor=actor)
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
    from exceptions.services import case_open_or_bump

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
    _hold_locked(job, reason=HoldReason.CLOSED_PERIOD, actor=actor)
    job_case_open(
        job,
        kind="period_closed",
        title=f"{job.document_type} {job.external_id}: period {document.document_date:%Y-%m} "
        "is closed in the ERP",
        detail={"error": error.message, "document_date": document.document_date.isoformat()},
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


def _hold_locked(job: SyncJob, *, reason: str, actor) -> None:
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
        _hold_locked(job, reason=reason, actor=actor)
    return True


# Document types another document can apply to (credit note, write-off, payment → invoice;
# refund → payment): only their posting can release children.
PARENT_TYPES = ("invoice", "payment")


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
