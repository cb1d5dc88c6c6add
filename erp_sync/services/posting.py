"""Posting sync jobs to their ERP: gate, slot, batch claim, calls, outcomes.

`job_post` is what the `erp_sync.post_job` task runs. It is safe to run any number of times
for one job, concurrently, from any worker:

(a) a read of the job's state: not pending / not a due retry_wait → return at once (a
    message for a job another task already took is a one-query no-op);
(b) the connection gate may hold the job (paused, maintenance window, circuit open: no
    call reaches the ERP); then a semaphore slot is taken (never more than
    `max_concurrency` calls in flight to one ERP);
(c) with the slot, one statement claims a batch: the message's job and up to
    `batch_size - 1` other ready jobs of the connection (FOR UPDATE SKIP LOCKED: two tasks
    never claim the same job), starts each with a lease and (PostgreSQL) writes each one's
    "attempt N started" history row;
(d) the adapter is called for each job in turn, OUTSIDE any transaction, each call with a
    deadline inside both the slot's and the lease's time (a call never outlives its lease,
    so a reclaimed job is never called twice at once). Adapters look the document up by
    external id before creating it, so a job whose last worker died after the ERP created
    the document just finds it. A retryable failure stops the batch (the ERP is in
    trouble: let the circuit breaker see it); the jobs not called go back to pending;
(e) the slot is released (it also expires by itself if the worker is killed, and a task
    waiting for one is woken at once), then one transaction records every attempt and
    outcome: posted (set-based: jobs, history, billing status; children released, cases
    resolved), retry with backoff, held, or dead with a case; a job taken over after its
    lease expired is left alone ("stale");
(f) while the backlog lasts and a slot is free, the task claims the next batch (for at
    most `drain_seconds`).

One job per call (`batch_size` 1) when tasks run eagerly: they run inside the caller's
request or transaction, which must not post other jobs.
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

from django.db import transaction
from django.utils import timezone

from billing.models import FinanceEvent
from billing.services import records_erp_status_set_many
from billing.services.bulk_write import history_columns, history_insert
from config.history import history_attrs, stamp
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
from erp_sync.services.batch_writes import jobs_save_many
from erp_sync.services.common import (
    ERP_STATUS_BY_STATE,
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


def _connection_read(connection_id: int) -> Connection:
    """The connection as the gate needs it, with its maintenance-window flag."""
    return Connection.objects.annotate(in_window=circuit.window_now()).get(pk=connection_id)


def job_post(*, job_id: int, actor, batch_size: int | None = None) -> str:
    """Try to post job `job_id` once (and, with a batch size above 1, other ready jobs of its
    connection); returns what happened to `job_id` (for logs and tests).

    Outcomes: "missing", "skipped" (not startable: a duplicate message, or another task holds
    it), "not_due", "held", "no_slot" (re-enqueued), "posted", "retry", "dead", "stale" (the
    lease expired and someone else took the job over), "requeued" (claimed, but its batch
    stopped before calling it: pending again, enqueued). Idempotent: the ERP receives a
    document at most once per job however often this runs. `batch_size` None: the
    connection's tuning (1 when tasks run eagerly).
    """
    row = (
        SyncJob.objects.filter(pk=job_id)
        .values_list("state", "next_attempt_at", "connection_id")
        .first()
    )
    if row is None:
        return "missing"
    state, next_attempt_at, connection_id = row
    if state not in STARTABLE:
        return "skipped"
    if (
        state == SyncJobState.RETRY_WAIT
        and next_attempt_at
        and next_attempt_at > timezone.now() + EARLY_TOLERANCE
    ):
        return "not_due"
    connection = _connection_read(connection_id)
    tuning = tuning_for(connection)
    size = batch_size or (1 if eager() else int(tuning.batch_size))
    gate = circuit.connection_gate(connection, actor=actor, lease_seconds=tuning.lease_seconds)
    if not gate.open:
        job_hold(job_id=job_id, reason=gate.hold_reason, actor=actor)
        return "held"
    if not gate.probe_token:
        return _drain(job_id, connection, tuning, size=size, probe=False, actor=actor)
    # A half-open circuit lets exactly one call through: the probe posts its own job alone.
    try:
        return _drain(job_id, connection, tuning, size=1, probe=True, actor=actor)
    finally:
        circuit.probe_release(connection)


def _drain(
    job_id: int, connection: Connection, tuning: Tuning, *, size: int, probe: bool, actor
) -> str:
    """Post batches of ready jobs, the first with `job_id`; returns `job_id`'s outcome.

    Each batch holds a slot only for its claim and calls; its outcomes are recorded after
    the slot is given back (a waiting task takes it at once), then the task takes a slot
    again for the next batch if one is free.
    """
    outcome = "skipped"
    stop_at = time.monotonic() + tuning.drain_seconds
    first = True
    while True:
        wait = tuning.slot_wait_seconds if first and not eager() else 0.0
        # Measured before the slot is taken: the slot expires `lease_seconds` after a moment
        # a little later than this, and the batch's leases later still.
        clock = time.monotonic()
        token = semaphore.acquire(connection, ttl=tuning.lease_seconds, wait=wait)
        if token is None:
            if not first:
                return outcome  # every slot busy: other tasks drain the backlog
            # Leave the job pending and come back shortly. In eager mode the sweeper
            # re-drives it instead (re-running inline would recurse).
            if not eager():
                enqueue_post([job_id], countdown=tuning.requeue_seconds * (1 + random.random()))
            return "no_slot"
        calls: list[Call] = []
        try:
            batch = _batch_start(
                job_id if first else None, connection, tuning, size=size, probe=probe, actor=actor
            )
            if isinstance(batch, str):
                return batch if first else outcome
            calls = _call_batch(connection, batch, tuning, slot_ends=clock + tuning.lease_seconds)
        finally:
            semaphore.release(connection, token)
        outcomes = _batch_finish(batch, calls, connection, tuning, actor=actor)
        if first:
            outcome = outcomes.get(job_id, "skipped")
        first = False
        drained = len(batch) < size or len(calls) < len(batch)
        if size == 1 or drained or time.monotonic() >= stop_at:
            return outcome
        connection = _connection_read(connection.pk)
        if (
            connection.paused
            or connection.in_window
            or connection.circuit_state != CircuitState.CLOSED
        ):
            return outcome  # the next batches' own messages meet the gate
        tuning = tuning_for(connection)


def _batch_start(
    job_id: int | None, connection: Connection, tuning: Tuning, *, size: int, probe: bool, actor
) -> list[SyncJob] | str:
    """(c) Claim and start up to `size` ready jobs (`job_id` among them when it is ready and
    not locked), each with its "attempt N started" history row; in id order. [] when none
    is ready; "held" when the circuit opened since the gate (`job_id` is held, as its gate
    would have)."""
    now = timezone.now()
    lease = now + dt.timedelta(seconds=tuning.lease_seconds)
    claim = _Claim(job_id, connection, size=size, probe=probe, now=now, lease=lease)
    if claim.db.vendor == "postgresql":
        # One statement, its own transaction: claim, start and history rows together.
        jobs = sorted(SyncJob.objects.raw(*claim.with_history(actor)), key=lambda job: job.pk)
    else:
        with transaction.atomic():
            jobs = sorted(SyncJob.objects.raw(*claim.sql()), key=lambda job: job.pk)
            for job in jobs:
                stamp(job, actor=actor, reason=f"attempt {job.attempts} started")
            history_insert(SyncJob, jobs, history_type="~", custom_historical_attrs=history_attrs())
    if jobs or job_id is None:
        return jobs
    # Nothing claimed: none ready, all locked by other tasks, or the circuit is no longer
    # closed (the claim requires it).
    state = Connection.objects.filter(pk=connection.pk).values_list("circuit_state", flat=True)
    state = state.get()
    closed_to_us = state == CircuitState.OPEN or (state == CircuitState.HALF_OPEN and not probe)
    if closed_to_us and job_hold(job_id=job_id, reason=HoldReason.CONNECTION_OPEN, actor=actor):
        return "held"
    return []


@dataclass
class _Claim:
    """The statement that locks up to `size` ready jobs of `connection` (`job_id` and the
    oldest others; FOR UPDATE SKIP LOCKED where the database has it) and starts them: the
    `start` transition (pending | retry_wait → in_flight, attempts + 1, the lease) done
    set-based, only while the circuit allows calls. It returns the started rows.

    One statement instead of a locking SELECT, an UPDATE, a circuit read and (PostgreSQL)
    the history COPY: the claim runs while the task holds a semaphore slot, and every
    round trip there is slot time not spent calling the ERP. Names come from model
    metadata.
    """

    job_id: int | None
    connection: Connection
    size: int
    probe: bool
    now: dt.datetime
    lease: dt.datetime

    @property
    def db(self):
        from django.db import connection as db

        return db

    def _job_columns(self) -> str:
        """Every column of a sync job: what the claim returns, for SyncJob.objects.raw."""
        qn = self.db.ops.quote_name
        return ", ".join(qn(f.column) for f in SyncJob._meta.concrete_fields)

    def _parts(self) -> tuple[str, str, list]:
        """(the CTEs, the UPDATE ... RETURNING, their parameters)."""
        db = self.db
        qn = db.ops.quote_name
        table = qn(SyncJob._meta.db_table)
        lock = " FOR UPDATE SKIP LOCKED" if db.features.has_select_for_update_skip_locked else ""
        ready = (
            "(state = %s OR (state = %s AND (next_attempt_at IS NULL OR next_attempt_at <= %s)))"
        )
        due = db.ops.adapt_datetimefield_value(self.now + EARLY_TOLERANCE)
        ready_params = [SyncJobState.PENDING, SyncJobState.RETRY_WAIT, due]
        states = [CircuitState.CLOSED, *([CircuitState.HALF_OPEN] if self.probe else [])]
        ctes = (
            f"mine AS (SELECT id FROM {table} WHERE id = %s AND connection_id = %s "  # noqa: S608
            f"AND {ready}{lock}), "
            f"others AS (SELECT id FROM {table} WHERE connection_id = %s AND id <> %s "
            f"AND {ready} ORDER BY id LIMIT %s{lock})"
        )
        update = (
            f"UPDATE {table} SET state = %s, attempts = attempts + 1, "  # noqa: S608
            "lease_expires_at = %s, hold_reason = '', updated_at = %s "
            "WHERE id IN (SELECT id FROM mine UNION ALL SELECT id FROM others) "
            f"AND EXISTS (SELECT 1 FROM {qn(Connection._meta.db_table)} WHERE id = %s "
            f"AND circuit_state IN ({', '.join(['%s'] * len(states))})) "
            f"RETURNING {self._job_columns()}"
        )
        mine = self.job_id if self.job_id is not None else 0
        params = [
            mine,
            self.connection.pk,
            *ready_params,
            self.connection.pk,
            mine,
            *ready_params,
            self.size - (1 if self.job_id is not None else 0),
            SyncJobState.IN_FLIGHT,
            db.ops.adapt_datetimefield_value(self.lease),
            db.ops.adapt_datetimefield_value(timezone.now()),
            self.connection.pk,
            *states,
        ]
        return ctes, update, params

    def sql(self) -> tuple[str, list]:
        ctes, update, params = self._parts()
        return f"WITH {ctes} {update}", params

    def with_history(self, actor) -> tuple[str, list]:
        """PostgreSQL: the claim, and each started job's history row ("attempt N started",
        stamped as `stamp` would) written by the same statement."""
        ctes, update, params = self._parts()
        qn = self.db.ops.quote_name
        history = SyncJob.history.model._meta
        copied = [f.column for f in history_columns(SyncJob)[0]]
        own = {
            "history_date": "%s",
            "history_change_reason": "'attempt ' || CAST(started.attempts AS text) || ' started'",
            "history_type": "'~'",
            "history_user_id": "%s",
            "correlation_id": "%s",
        }
        columns = ", ".join(qn(column) for column in [*copied, *own])
        values = ", ".join([*(f"started.{qn(column)}" for column in copied), *own.values()])
        sql = (
            f"WITH {ctes}, started AS ({update}), "  # noqa: S608
            f"history AS (INSERT INTO {qn(history.db_table)} ({columns}) "
            f"SELECT {values} FROM started) "
            f"SELECT {self._job_columns()} FROM started"
        )
        user = actor.pk if actor is not None and actor.pk else None
        stamps = [timezone.now(), user, history_attrs()["correlation_id"]]
        return sql, [*params, *stamps]


def _stops_batch(error: ErpError) -> bool:
    """A failure that says the ERP (not this document) is in trouble: no more calls now."""
    return isinstance(error, RetryableError | UnparseableResponseError)


def _call_batch(
    connection: Connection, jobs: list[SyncJob], tuning: Tuning, *, slot_ends: float
) -> list[Call]:
    """(d) Call the ERP for each job in turn; the calls made (a prefix of `jobs`).

    Every call has a deadline `lease_margin_seconds` before the slot ends (the leases, set
    after the slot was taken, end later): the adapter gives up at it. After the first call,
    a job is called only if a whole `call_timeout_seconds` still fits.
    """
    calls: list[Call] = []
    end = slot_ends - tuning.lease_margin_seconds
    for job in jobs:
        now = time.monotonic()
        if calls and end - now < tuning.call_timeout_seconds:
            break
        call = _call_erp(connection, job, deadline=min(now + tuning.call_timeout_seconds, end))
        calls.append(call)
        if call.error is not None and _stops_batch(call.error):
            break
    return calls


def _call_erp(connection: Connection, job: SyncJob, *, deadline: float) -> Call:
    """One ERP call, outside any transaction, given up at `deadline` (time.monotonic())."""
    started_at = timezone.now()
    digest = request_digest(job.document)
    clock = time.monotonic()
    call = Call(started_at=started_at, duration_ms=0, digest=digest)
    try:
        adapter = adapter_for(connection)
        call.result = adapter.post(document_from_json(job.document), deadline=deadline)
    except ErpError as error:
        call.error = error
        call.error_class = type(error).__name__
    except Exception as error:  # an adapter bug must not lose the job
        log.exception("adapter raised an unclassified error", extra={"job": job.pk})
        call.error = RetryableError(f"{type(error).__name__}: {error}")
        call.error_class = type(error).__name__
    call.duration_ms = int((time.monotonic() - clock) * 1000)
    return call


def _batch_finish(
    jobs: list[SyncJob], calls: list[Call], connection: Connection, tuning: Tuning, *, actor
) -> dict[int, str]:
    """(e) Record every attempt and act on its outcome, in one transaction; outcome per job."""
    outcomes: dict[int, str] = {}
    # The claim returned the jobs alone: their events (type and ids: billing's record and
    # history reason) in one query, the bodies only if an error path reads them.
    events = FinanceEvent.objects.defer("body", "result").in_bulk({j.event_id for j in jobs})
    for job in jobs:
        job.event = events[job.event_id]
    with transaction.atomic():
        # Lock the rows and check each is still this attempt's (state + attempt number); the
        # rest of the job is what `_batch_start` read and wrote under its own lock: while in
        # flight only the lease sweeper (reclaim: state changes) or a later attempt (attempts
        # changes) may touch it.
        current = {
            pk: (state, attempts)
            for pk, state, attempts in SyncJob.objects.select_for_update(of=("self",))
            .filter(pk__in=[job.pk for job in jobs])
            .order_by("id")
            .values_list("pk", "state", "attempts")
        }
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
                    extra={"job": job.pk, "attempt": job.attempts},
                )
                outcomes[job.pk] = "stale"
                continue
            call = called.get(job.pk)
            if call is None:
                not_called.append(job)
                continue
            attempt = SyncAttempt(
                job=job,
                number=job.attempts,
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
            outcomes[job.pk] = _on_error(job, connection, tuning, call.error, attempt, actor=actor)
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
        attempt.response = _jsonable(attempt.response | {"raw": result.raw})
    job.succeed(erp_id=result.erp_id, erp_number=result.number)
    how = "posted" if result.created else "found already in the ERP"
    stamp(job, actor=actor, reason=f"{how} as {result.number}")


def _posted_write(
    posted: list[SyncJob], troubled: list[SyncJob], connection: Connection, *, actor
) -> None:
    """Posted jobs: their rows, history and billing statuses set-based; then the circuit,
    the children waiting for them and the cases of those that had failed before."""
    jobs_save_many(posted, fields=POSTED_FIELDS)
    records_erp_status_set_many(
        [(job.event, ERP_STATUS_BY_STATE[job.state], job.erp_number, job.erp_id) for job in posted],
        actor=actor,
    )
    if circuit.circuit_record_success(connection=connection, actor=actor):
        _connection_recovered(connection, actor=actor)
    _release_children_many(posted, connection, actor=actor)
    for job in troubled:
        job_cases_resolve(job, actor=actor, reason=f"posted as {job.erp_number}")


def _give_back(jobs: list[SyncJob], tuning: Tuning, *, actor) -> None:
    """Claimed jobs the batch did not call (it stopped): back to pending, the attempt that
    was not made uncounted, and enqueued again."""
    for job in jobs:
        job.reclaim()
        stamp(job, actor=actor, reason=f"attempt {job.attempts} not made: batch stopped")
        job.attempts -= 1
    jobs_save_many(jobs, fields=GIVE_BACK_FIELDS)
    enqueue_post([job.pk for job in jobs], countdown=tuning.requeue_seconds)


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


def _release_children_many(posted: list[SyncJob], connection: Connection, *, actor) -> None:
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
