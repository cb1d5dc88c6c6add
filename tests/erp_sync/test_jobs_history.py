"""Every job service leaves a history row naming its actor and its reason."""

import datetime as dt

import pytest
from django.utils import timezone

from erp_sync.adapters.base import NonRetryableError
from erp_sync.choices import HoldReason, SyncJobState
from erp_sync.services.dispatch import sync_jobs_create_for_event
from erp_sync.services.jobs import job_cancel, job_hold, job_post, job_replay
from erp_sync.services.sweeper import jobs_reclaim_expired
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import CallCounter, make_world

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
from tests.erp_sync.job_helpers import eager_celery  # noqa: E402, F401 (fixture)


def _rows(job):
    return [
        (row.state, row.history_user, row.history_change_reason)
        for row in job.history.order_by("history_date", "history_id")
    ]


def test_job_services_record_actor_and_reason(
    make_user, django_capture_on_commit_callbacks, monkeypatch
):
    make_world()
    person = make_user("ops", "finance_ops")
    robot = make_user("system:erp-sync")
    CallCounter(monkeypatch, failures=[NonRetryableError("bad account")])

    with django_capture_on_commit_callbacks(execute=False):
        [job] = sync_jobs_create_for_event(event=make_invoice().event, actor=robot)
    assert job_hold(job_id=job.pk, reason=HoldReason.PAUSED, actor=robot)
    job_replay(job=job, actor=person, reason="resume now")  # held → pending
    with django_capture_on_commit_callbacks(execute=False):
        job_post(job_id=job.pk, actor=robot)  # → dead (non-retryable)
    job.refresh_from_db()
    job_replay(job=job, actor=person, reason="account fixed")
    job.refresh_from_db()
    job.start(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    job.save()
    jobs_reclaim_expired(actor=robot)
    job_cancel(job=job, actor=person, reason="booked by hand")

    rows = _rows(job)
    expected = [
        (SyncJobState.PENDING, robot, "created for event"),
        (SyncJobState.HELD, robot, "held: paused"),
        (SyncJobState.PENDING, person, "released by hand (was held: paused): resume now"),
        (SyncJobState.IN_FLIGHT, robot, "attempt 1 started"),
        (SyncJobState.DEAD, robot, "dead: erp_rejected"),
        (SyncJobState.PENDING, person, "replayed with a rebuilt document: account fixed"),
        (SyncJobState.IN_FLIGHT, ..., None),  # the test's own save (a stand-in worker)
        (SyncJobState.PENDING, robot, "lease expired during attempt 1"),
        (SyncJobState.CANCELLED, person, "cancelled: booked by hand"),
    ]
    assert len(rows) == len(expected)
    for (state, user, reason), (want_state, want_user, want_reason) in zip(
        rows, expected, strict=True
    ):
        assert state == want_state
        if want_user is not ...:
            assert user == want_user
        if want_reason is not None:
            assert reason.startswith(want_reason)
