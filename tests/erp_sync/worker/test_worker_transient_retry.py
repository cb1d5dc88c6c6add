"""(a) A transient failure is retried by a real worker and posts once."""

import datetime as dt

import pytest
from django.utils import timezone

from erp_sync.choices import SyncJobState
from erp_sync.models import SandboxDocument
from tests.erp_sync.worker.conftest import wait_until
from tests.erp_sync.worker.helpers import all_in, dispatch_invoices, world

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_worker_transient_failure_retried_posts_once(start_worker):
    start_worker(concurrency=2)
    now = timezone.now()
    outage = {
        "start": (now - dt.timedelta(seconds=5)).isoformat(),
        "end": (now + dt.timedelta(seconds=2)).isoformat(),
    }
    w = world(
        failure_threshold=100,
        settings={"outage": [outage], "sync": {"retry_base_seconds": 0.5}},
    )

    [job] = dispatch_invoices(1)

    wait_until(lambda: all_in([job], SyncJobState.POSTED), timeout=25, message="job not posted")
    job.refresh_from_db()
    assert job.attempts >= 2
    assert job.attempt_log.filter(outcome="posted").count() == 1
    assert job.attempt_log.filter(outcome="retry").count() == job.attempts - 1
    assert SandboxDocument.objects.filter(connection=w["connection"]).count() == 1
