"""`job_post`: the gate, the slot, and draining batches while the backlog lasts."""

from __future__ import annotations

import random
import time

from django.utils import timezone

from erp_sync import semaphore
from erp_sync.choices import CircuitState, SyncJobState
from erp_sync.models import Connection, SyncJob
from erp_sync.services import circuit
from erp_sync.services.common import EARLY_TOLERANCE, STARTABLE, eager, enqueue_post
from erp_sync.services.posting.calls import Call, call_batch
from erp_sync.services.posting.claim import batch_start
from erp_sync.services.posting.holds import job_hold
from erp_sync.services.posting.outcomes import batch_finish
from erp_sync.services.tuning import REQUEUE_JITTER, Tuning, tuning_for


def connection_read(connection_id: int) -> Connection:
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
    connection = connection_read(connection_id)
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
                jitter = 1 + (REQUEUE_JITTER - 1) * random.random()
                enqueue_post([job_id], countdown=tuning.requeue_seconds * jitter)
            return "no_slot"
        calls: list[Call] = []
        try:
            batch = batch_start(
                job_id if first else None, connection, tuning, size=size, probe=probe, actor=actor
            )
            if isinstance(batch, str):
                return batch if first else outcome
            calls = call_batch(connection, batch, tuning, slot_ends=clock + tuning.lease_seconds)
        finally:
            semaphore.release(connection, token)
        outcomes = batch_finish(batch, calls, connection, tuning, actor=actor)
        if first:
            outcome = outcomes.get(job_id, "skipped")
        first = False
        drained = len(batch) < size or len(calls) < len(batch)
        if size == 1 or drained or time.monotonic() >= stop_at:
            return outcome
        connection = connection_read(connection.pk)
        if (
            connection.paused
            or connection.in_window
            or connection.circuit_state != CircuitState.CLOSED
        ):
            return outcome  # the next batches' own messages meet the gate
        tuning = tuning_for(connection)
