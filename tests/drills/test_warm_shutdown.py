"""Drill: SIGTERM the workers in the middle of a burst, 20 times, at random moments.

Three workers take turns. Each round dispatches a burst of invoice jobs (their post messages
go to the drill broker), lets the workers post for a random 0 to 1.5 s, then sends SIGTERM to
the oldest worker, its replacement starting at once. The SIGTERM goes, at random, either to
the worker's main process only (Docker, Kubernetes: Celery's warm shutdown, the tasks
running finish, messages not started go back to the broker) or to its whole process group
(systemd's default KillMode=control-group: the pool processes die in the middle of their
ERP calls, acks_late and reject_on_worker_lost hand the message back, the job's lease
expires and the sweeper reclaims it; the next attempt finds a document the dead call made
by its external id). At the end every job is posted and the sandbox ledger holds exactly
one document per job.

Shown to fail without the protection: with the sweeper loop not started, the jobs whose
call died with a pool process stay in flight for good and the drill reports them lost.
"""

import contextlib
import random
import time
from collections import deque

import pytest

from erp_sync.choices import SyncJobState
from erp_sync.models import SyncJob
from erp_sync.services.dispatch import sync_jobs_create_for_event
from tests.drills.conftest import drill_seconds
from tests.drills.load import posting_counts, summary
from tests.drills.servers import wait_until
from tests.erp_sync.factories import make_invoice

pytestmark = [pytest.mark.drill]

ROUNDS = int(drill_seconds("shutdowns", 20))
WORKERS = 3
BURST = 6
# 200 ms per ERP call, one job per call and slot, and a task stops draining after 2 s: a
# SIGTERM finds calls in flight and messages waiting. A 6 s lease: a job whose call died is
# reclaimed within the drill.
CONNECTION_SETTINGS = {
    "latency_ms": 200,
    "sync": {
        "batch_size": 1,
        "drain_seconds": 2,
        "lease_seconds": 6,
        "call_timeout_seconds": 3,
        "lease_margin_seconds": 1,
    },
}
KNOBS = {"CONCORD_ERP_STALE_PENDING_SECONDS": 5}


def test_warm_shutdown_20_times_mid_burst_loses_nothing_posts_once(drill, drill_world):
    world = drill_world(settings=CONNECTION_SETTINGS, max_concurrency=2)
    connection = world["connection"]
    rng = random.Random()
    job_ids: list[int] = []
    in_flight_at_sigterm = 0
    whole_group = 0
    drill.sweeper(interval=1, **KNOBS)
    # Workers take turns: each round stops the oldest and starts its replacement at once,
    # which has WORKERS - 1 rounds to get ready while the others carry the load.
    workers = deque(drill.worker(concurrency=1, wait=False, **KNOBS) for _ in range(WORKERS))
    stopped = []
    for _ in range(ROUNDS):
        target = workers.popleft()
        target.wait_ready()
        for _ in range(BURST):
            jobs = sync_jobs_create_for_event(event=make_invoice().event, actor=None)
            job_ids += [job.pk for job in jobs]
        time.sleep(rng.uniform(0.0, 1.5))
        in_flight_at_sigterm += SyncJob.objects.filter(
            pk__in=job_ids, state=SyncJobState.IN_FLIGHT
        ).exists()
        if rng.random() < 0.5:
            target.terminate_group()
            whole_group += 1
        else:
            target.warm_shutdown()
        stopped.append(target)
        workers.append(drill.worker(concurrency=1, wait=False, **KNOBS))
    for worker in stopped:
        worker.proc.wait(timeout=60)
        assert "Warm shutdown" in worker.text(), worker.tail()

    jobs = SyncJob.objects.filter(pk__in=job_ids)
    with contextlib.suppress(AssertionError):  # the counts below say what is missing
        wait_until(
            lambda: posting_counts(connection, jobs)["posted"] == len(job_ids),
            timeout=drill_seconds("shutdown_recovery", 60),
            interval=1,
            message="jobs not posted after the last shutdown",
        )
    counts = posting_counts(connection, jobs)
    summary(
        "warm-shutdown",
        sigterms=ROUNDS,
        to_group=whole_group,
        mid_call=in_flight_at_sigterm,
        sent=len(job_ids),
        stored=counts["jobs"],
        posted=counts["posted"],
        documents=counts["documents"],
        duplicates=counts["duplicates"],
        lost=counts["lost"],
    )
    assert in_flight_at_sigterm > 0, "no SIGTERM came while a call was in flight"
    assert counts["lost"] == 0
    assert counts["duplicates"] == 0
    assert counts["documents"] == counts["posted"] == len(job_ids)
