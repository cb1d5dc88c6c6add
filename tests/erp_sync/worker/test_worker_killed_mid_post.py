"""(b) A worker SIGKILLed during the ERP call: after the lease expires and the sweeper runs,
a new worker posts the job and the sandbox holds exactly one document."""

import pytest

from erp_sync.choices import SyncJobState
from erp_sync.models import Connection, SandboxDocument
from erp_sync.services.sweeper import sync_sweep
from tests.erp_sync.worker.conftest import wait_until
from tests.erp_sync.worker.helpers import all_in, dispatch_invoices, world

pytestmark = [pytest.mark.postgres, pytest.mark.redis]
LEASE = 8


def test_worker_killed_during_post_job_posts_once_after_lease(start_worker):
    first = start_worker(concurrency=2)
    w = world(
        settings={
            "latency_ms": 20000,
            "sync": {"lease_seconds": LEASE, "call_timeout_seconds": 5, "lease_margin_seconds": 2},
        }
    )
    [job] = dispatch_invoices(1)
    wait_until(lambda: all_in([job], SyncJobState.IN_FLIGHT), timeout=15, message="not started")

    first.kill()
    # Before the lease runs out the sweeper leaves the job alone.
    assert sync_sweep(actor=None)["reclaimed"] == 0
    Connection.objects.filter(pk=w["connection"].pk).update(settings={"latency_ms": 50})
    start_worker(concurrency=2)

    def reclaimed_and_posted():
        sync_sweep(actor=None)
        return all_in([job], SyncJobState.POSTED)

    wait_until(reclaimed_and_posted, timeout=25, interval=0.5, message="not re-posted")
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.history.filter(history_change_reason__startswith="lease expired").count() == 1
    assert SandboxDocument.objects.filter(connection=w["connection"]).count() == 1
