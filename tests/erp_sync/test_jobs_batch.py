"""Batches: a task with a slot posts several ready jobs of its connection, each with its own
attempt, history and billing status; a failure of the ERP stops the batch and gives the
jobs not called back; a message for a job a batch took is a one-query no-op."""

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext

from billing.choices import ErpStatus
from billing.models import Invoice
from erp_sync.adapters.base import NonRetryableError, RetryableError
from erp_sync.choices import AttemptOutcome, SyncJobState
from erp_sync.models import SyncAttempt, SyncJob
from erp_sync.services.posting import job_post
from tests.erp_sync.job_helpers import (
    SLOW_RETRY,
    CallCounter,
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
    pending_jobs,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def reasons(job: SyncJob) -> list[str]:
    return list(
        job.history.order_by("history_date", "history_id").values_list(
            "history_change_reason", flat=True
        )
    )


def test_batch_posts_each_job_once_with_its_own_attempt_history_and_status(
    django_capture_on_commit_callbacks,
):
    make_world()
    jobs = pending_jobs(4)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert job_post(job_id=jobs[2].pk, actor=None, batch_size=4) == "posted"

    assert queued == []  # nothing re-enqueued
    for job in jobs:
        job.refresh_from_db()
        assert job.state == SyncJobState.POSTED and job.attempts == 1
        assert documents_for(job) == 1
        [attempt] = job.attempt_log.all()
        assert attempt.outcome == AttemptOutcome.POSTED
        assert attempt.erp_reference == job.erp_number
        assert reasons(job)[-2:] == ["attempt 1 started", f"posted as {job.erp_number}"]
        invoice = Invoice.objects.get(event_id=job.event_id)
        assert invoice.erp_status == ErpStatus.POSTED
        assert invoice.erp_document_number == job.erp_number
        assert invoice.history.latest().history_change_reason.endswith("ERP status posted")
    assert len({job.erp_number for job in jobs}) == 4


def test_message_for_a_job_a_batch_posted_is_a_one_query_no_op():
    make_world()
    jobs = pending_jobs(3)
    job_post(job_id=jobs[0].pk, actor=None, batch_size=3)

    with CaptureQueriesContext(db) as queries:
        assert job_post(job_id=jobs[1].pk, actor=None, batch_size=3) == "skipped"
    assert len(queries.captured_queries) == 1
    assert SyncAttempt.objects.count() == 3


def test_retryable_failure_stops_the_batch_and_gives_the_rest_back(
    django_capture_on_commit_callbacks, monkeypatch
):
    make_world(settings=SLOW_RETRY)
    counter = CallCounter(monkeypatch, failures=[None, RetryableError("503 service unavailable")])
    first, second, third, fourth = pending_jobs(4)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert job_post(job_id=first.pk, actor=None, batch_size=4) == "posted"

    assert counter.calls == 2  # no call after the failure
    for job in (first, second, third, fourth):
        job.refresh_from_db()
    assert first.state == SyncJobState.POSTED
    assert second.state == SyncJobState.RETRY_WAIT and second.attempts == 1
    for job in (third, fourth):
        # Never called: pending again, the attempt not counted, no attempt row.
        assert job.state == SyncJobState.PENDING and job.attempts == 0
        assert not job.attempt_log.exists()
        assert reasons(job)[-2:] == ["attempt 1 started", "attempt 1 not made: batch stopped"]
    assert len(queued) == 2  # the retry, and the jobs given back


def test_a_rejected_document_does_not_stop_the_batch(
    django_capture_on_commit_callbacks, monkeypatch
):
    make_world()
    counter = CallCounter(monkeypatch, failures=[NonRetryableError("sandbox: no such tax code")])
    first, second, third = pending_jobs(3)

    with django_capture_on_commit_callbacks(execute=True):
        assert job_post(job_id=first.pk, actor=None, batch_size=3) == "dead"

    assert counter.calls == 3
    states = dict(SyncJob.objects.values_list("pk", "state"))
    assert states == {
        first.pk: SyncJobState.DEAD,
        second.pk: SyncJobState.POSTED,
        third.pk: SyncJobState.POSTED,
    }


def test_batch_leaves_jobs_that_are_not_ready_alone(django_capture_on_commit_callbacks):
    make_world()
    ready, held, waiting = pending_jobs(3)
    SyncJob.objects.filter(pk=held.pk).update(state=SyncJobState.HELD, hold_reason="paused")
    from django.utils import timezone

    later = timezone.now() + timezone.timedelta(minutes=5)
    SyncJob.objects.filter(pk=waiting.pk).update(
        state=SyncJobState.RETRY_WAIT, next_attempt_at=later, attempts=1
    )

    with django_capture_on_commit_callbacks(execute=False):
        assert job_post(job_id=ready.pk, actor=None, batch_size=3) == "posted"

    states = dict(SyncJob.objects.values_list("pk", "state"))
    assert states[held.pk] == SyncJobState.HELD
    assert states[waiting.pk] == SyncJobState.RETRY_WAIT
    assert SyncAttempt.objects.count() == 1
