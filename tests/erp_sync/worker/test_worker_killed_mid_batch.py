"""A worker SIGKILLed in the middle of a batch: the jobs it had claimed stay in flight until
their leases expire, the sweeper gives them back, another worker posts each once; those
whose documents the killed batch had created are found in the ERP, not created again."""

import pytest

from erp_sync.choices import AttemptOutcome, SyncJobState
from erp_sync.models import SandboxDocument, SyncAttempt, SyncJob
from erp_sync.services.sweeper import sync_sweep
from tests.erp_sync.worker.conftest import wait_until
from tests.erp_sync.worker.helpers import all_in, dispatch_invoices, duplicates, world

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
LEASE = 6
SYNC = {"lease_seconds": LEASE, "call_timeout_seconds": 2, "lease_margin_seconds": 1}


def test_worker_killed_mid_batch_posts_every_job_once(start_worker):
    w = world(settings={"latency_ms": 400, "sync": {**SYNC, "batch_size": 6}})
    connection = w["connection"]
    # All six are queued before the worker starts: its first task claims them in one batch
    # (or two tasks split them), and outcomes are written when a batch's calls are done.
    jobs = dispatch_invoices(6)
    ids = [job.pk for job in jobs]
    first = start_worker(concurrency=2)

    def called_not_recorded() -> int:
        """Jobs in flight whose document the ERP already holds."""
        documents = SandboxDocument.objects.filter(connection=connection)
        return SyncJob.objects.filter(
            pk__in=ids,
            state=SyncJobState.IN_FLIGHT,
            external_id__in=documents.values("external_id"),
        ).count()

    wait_until(lambda: called_not_recorded() >= 1, timeout=20, message="no call in a batch")
    first.kill()
    unrecorded = called_not_recorded()
    in_flight = set(
        SyncJob.objects.filter(pk__in=ids, state=SyncJobState.IN_FLIGHT).values_list(
            "pk", flat=True
        )
    )
    assert unrecorded >= 1 and len(in_flight) > unrecorded  # some claimed, not yet called
    # Before the leases run out the sweeper leaves the claimed jobs alone.
    assert sync_sweep(actor=None)["reclaimed"] == 0

    start_worker(concurrency=2)

    def reclaimed_and_posted():
        sync_sweep(actor=None)
        return all_in(jobs, SyncJobState.POSTED)

    wait_until(reclaimed_and_posted, timeout=40, interval=0.5, message="not re-posted")
    assert SandboxDocument.objects.filter(connection=connection).count() == 6
    assert duplicates(connection) == 0
    found = SyncAttempt.objects.filter(job__in=ids, outcome=AttemptOutcome.FOUND_EXISTING)
    assert found.count() == unrecorded
    for job in SyncJob.objects.filter(pk__in=in_flight):
        assert job.history.filter(history_change_reason__startswith="lease expired").count() == 1
        assert job.attempt_log.count() == 1  # the killed call left no attempt row
