"""(f) Outage drill with a real worker pool: the breaker opens after N failures, no call is
made while it is open, held jobs post exactly once after recovery, and the number of calls in
flight never exceeds the connection's max_concurrency."""

import datetime as dt

import pytest
from django.utils import timezone

from erp_sync import semaphore
from erp_sync.choices import CircuitState, SyncJobState
from erp_sync.models import Connection, SyncAttempt
from erp_sync.services.sweeper import sync_sweep
from tests.erp_sync.worker.conftest import wait_until
from tests.erp_sync.worker.helpers import all_in, dispatch_invoices, duplicates, world

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
JOBS = 12
LIMIT = 2
# Calls already on the wire when the breaker trips may still start a moment later.
IN_FLIGHT_GRACE = dt.timedelta(milliseconds=300)


def _open_intervals(connection: Connection) -> list[tuple[dt.datetime, dt.datetime]]:
    rows = list(connection.history.order_by("history_date", "history_id"))
    intervals = []
    for index, row in enumerate(rows):
        if row.circuit_state == CircuitState.OPEN and (
            index == 0 or rows[index - 1].circuit_state != CircuitState.OPEN
        ):
            end = next(
                (
                    later.history_date
                    for later in rows[index + 1 :]
                    if later.circuit_state != CircuitState.OPEN
                ),
                timezone.now(),
            )
            intervals.append((row.history_date, end))
    return intervals


def test_worker_outage_breaker_holds_then_everything_posts_once(start_worker):
    start_worker(concurrency=4)
    now = timezone.now()
    outage = {
        "start": (now - dt.timedelta(seconds=1)).isoformat(),
        "end": (now + dt.timedelta(seconds=4)).isoformat(),
    }
    w = world(
        max_concurrency=LIMIT,
        failure_threshold=3,
        open_cooldown_seconds=2,
        settings={"outage": [outage], "latency_ms": 100, "sync": {"retry_base_seconds": 0.3}},
    )
    connection = w["connection"]
    semaphore.reset(connection)

    jobs = dispatch_invoices(JOBS)
    wait_until(
        lambda: Connection.objects.get(pk=connection.pk).circuit_state == CircuitState.OPEN,
        timeout=15,
        message="breaker never opened",
    )

    def recovered():
        sync_sweep(actor=None)
        return all_in(jobs, SyncJobState.POSTED)

    wait_until(recovered, timeout=40, interval=0.5, message="jobs not all posted")

    connection.refresh_from_db()
    assert connection.circuit_state == CircuitState.CLOSED
    intervals = _open_intervals(connection)
    assert intervals, "the breaker never opened"
    for opened, closed in intervals:
        calls_while_open = SyncAttempt.objects.filter(
            job__connection=connection,
            started_at__gt=opened + IN_FLIGHT_GRACE,
            started_at__lt=closed,
        ).count()
        assert calls_while_open == 0
    assert duplicates(connection) == 0
    from erp_sync.models import SandboxDocument

    assert SandboxDocument.objects.filter(connection=connection).count() == JOBS
    for job in jobs:
        job.refresh_from_db()
        assert job.attempt_log.filter(outcome="posted").count() == 1
    assert 1 <= semaphore.max_in_flight(connection) <= LIMIT
