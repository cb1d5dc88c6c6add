"""Posting a job: dispatch → task → adapter → posted, with its attempt and billing status."""

import pytest

from billing.choices import ErpStatus
from erp_sync.choices import AttemptOutcome, SyncJobState
from erp_sync.models import SyncJob
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import (
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def test_dispatch_invoice_event_posts_once(django_capture_on_commit_callbacks):
    make_world()
    invoice = make_invoice()
    from tests.erp_sync.job_helpers import dispatch

    [job] = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)
    job.refresh_from_db()
    invoice.refresh_from_db()
    assert job.state == SyncJobState.POSTED
    assert job.erp_number.startswith("SBX-US01-")
    assert documents_for(job) == 1
    [attempt] = job.attempt_log.all()
    assert attempt.outcome == AttemptOutcome.POSTED
    assert len(attempt.request_digest) == 64
    assert invoice.erp_status == ErpStatus.POSTED
    assert invoice.erp_document_number == job.erp_number
    assert SyncJob.objects.count() == 1
