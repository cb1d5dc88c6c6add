"""(c) The same task message delivered several times to concurrent workers: one document."""

import pytest

from erp_sync.choices import SyncJobState
from erp_sync.models import SandboxDocument
from erp_sync.tasks import post_job
from tests.erp_sync.worker.conftest import wait_until
from tests.erp_sync.worker.helpers import all_in, dispatch_invoices, world

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_worker_same_message_twice_posts_one_document(start_worker):
    start_worker(concurrency=2)
    w = world(settings={"latency_ms": 300})

    jobs = dispatch_invoices(3)
    for job in jobs:
        post_job.apply_async(kwargs={"job_id": job.pk}, queue="erp")
        post_job.apply_async(kwargs={"job_id": job.pk}, queue="erp")

    wait_until(lambda: all_in(jobs, SyncJobState.POSTED), timeout=25, message="not posted")
    for job in jobs:
        job.refresh_from_db()
        assert job.attempts == 1
        assert job.attempt_log.count() == 1
    assert SandboxDocument.objects.filter(connection=w["connection"]).count() == 3
