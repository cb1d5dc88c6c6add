"""Retryable failures: backoff with jitter, posted once after a retry, dead when exhausted."""

import datetime as dt

import pytest
from django.utils import timezone

from billing.choices import ErpStatus
from erp_sync.adapters.base import RetryableError
from erp_sync.choices import AttemptOutcome, SyncJobState
from erp_sync.models import SyncJob
from erp_sync.services.common import backoff_seconds
from erp_sync.services.posting import job_post
from exceptions.models import Case
from exceptions.selectors import case_item_subject_ids
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import (
    SLOW_RETRY,
    CallCounter,
    dispatch,
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    fixed_jitter,
    make_due,
    make_world,
    sweep,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def test_post_retryable_then_success_posted_once_with_two_attempts(
    django_capture_on_commit_callbacks, monkeypatch
):
    make_world(settings=SLOW_RETRY)
    fixed_jitter(monkeypatch)
    counter = CallCounter(monkeypatch, failures=[RetryableError("503 service unavailable")])
    invoice = make_invoice()

    [job] = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.state == SyncJobState.RETRY_WAIT
    assert job.last_error_code == "erp_unavailable"
    assert job.next_attempt_at > timezone.now() + dt.timedelta(seconds=25)
    invoice.refresh_from_db()
    assert invoice.erp_status == ErpStatus.PENDING

    make_due(job)
    sweep(django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert job.state == SyncJobState.POSTED
    assert counter.calls == 2
    assert documents_for(job) == 1
    outcomes = list(job.attempt_log.values_list("number", "outcome"))
    assert outcomes == [(1, AttemptOutcome.RETRY), (2, AttemptOutcome.POSTED)]


def test_post_retry_not_due_is_a_noop(django_capture_on_commit_callbacks, monkeypatch):
    make_world(settings=SLOW_RETRY)
    fixed_jitter(monkeypatch)
    counter = CallCounter(monkeypatch, failures=[RetryableError("timeout")])
    [job] = dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)

    # The (eager) countdown message ran at once and found the retry not due yet.
    assert counter.calls == 1
    assert job_post(job_id=job.pk, actor=None) == "not_due"
    job.refresh_from_db()
    assert job.state == SyncJobState.RETRY_WAIT
    assert counter.calls == 1


def test_post_attempts_exhausted_dead_with_case(django_capture_on_commit_callbacks, monkeypatch):
    world = make_world(failure_threshold=100, settings=SLOW_RETRY)
    fixed_jitter(monkeypatch)
    CallCounter(monkeypatch, failures=[RetryableError("503")] * 3)
    invoice = make_invoice()
    [job] = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)
    SyncJob.objects.filter(pk=job.pk).update(max_attempts=3)

    for _ in range(2):
        make_due(job)
        sweep(django_capture_on_commit_callbacks)

    job.refresh_from_db()
    invoice.refresh_from_db()
    assert job.state == SyncJobState.DEAD
    assert job.last_error_code == "erp_unavailable"
    assert job.attempt_log.count() == 3
    assert invoice.erp_status == ErpStatus.DEAD
    # One case for the cause (the ERP of this connection unavailable), the job among its items.
    case = Case.objects.get(kind="erp_unavailable", cause_key=str(world["connection"].pk))
    assert case.entity == world["entity"].code
    assert str(job.pk) in {str(pk) for pk in case_item_subject_ids(case)}


def test_backoff_honours_retry_after_and_cap():
    assert backoff_seconds(attempts=0, base=2, cap=600, retry_after=30) >= 30
    for attempts in range(20):
        assert 0 <= backoff_seconds(attempts=attempts, base=2, cap=100, retry_after=None) <= 100
    assert backoff_seconds(attempts=3, base=2, cap=50, retry_after=500) == 50


def test_retry_countdown_never_exceeds_visibility_timeout(settings):
    from erp_sync.services.tuning import tuning_for

    settings.CELERY_VISIBILITY_TIMEOUT = 120
    assert tuning_for().max_countdown == 60  # 120 s - 60 s margin
    settings.CELERY_VISIBILITY_TIMEOUT = 3600
    assert tuning_for().max_countdown == 900  # the cap


def test_post_429_retry_after_sets_next_attempt(django_capture_on_commit_callbacks, monkeypatch):
    make_world()
    fixed_jitter(monkeypatch)
    CallCounter(monkeypatch, failures=[RetryableError("429", retry_after=300)])
    [job] = dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.next_attempt_at >= timezone.now() + dt.timedelta(seconds=295)
    assert job.attempt_log.get().response["retry_after"] == 300
