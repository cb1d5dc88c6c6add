"""A call never outlives the lease it runs under: the lease must exceed the call timeout
(validated), the adapter gives up at the call's deadline, and a batch starts a call only
when a whole one still fits. Otherwise the sweeper could reclaim a job whose slow call is
still running and a second worker would call the ERP for the same document."""

import datetime as dt

import pytest

from erp_sync.choices import AttemptOutcome, SyncJobState
from erp_sync.errors import ConnectionSettingsError
from erp_sync.models import SyncJob
from erp_sync.services.connections import connection_update
from erp_sync.services.posting import job_post
from erp_sync.services.sweeper import jobs_reclaim_expired
from erp_sync.services.tuning import TuningError, tuning_for
from tests.erp_sync.job_helpers import (
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_due,
    make_world,
    pending_jobs,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

SHORT = {"lease_seconds": 3, "call_timeout_seconds": 1, "lease_margin_seconds": 1}


def test_lease_shorter_than_call_timeout_plus_margin_is_refused():
    world = make_world()
    connection = world["connection"]
    connection.settings = {"sync": {"lease_seconds": 30, "call_timeout_seconds": 60}}
    with pytest.raises(TuningError, match="lease_seconds"):
        tuning_for(connection)
    with pytest.raises(ConnectionSettingsError, match="lease_seconds"):
        connection_update(
            connection=world["connection"],
            data={"settings": {"sync": {"lease_seconds": 8}}},
            actor=None,
        )
    with pytest.raises(ConnectionSettingsError, match="unknown sync knob"):
        connection_update(
            connection=world["connection"], data={"settings": {"sync": {"lease": 8}}}, actor=None
        )


def test_slow_call_is_cut_at_its_deadline_inside_the_lease(django_capture_on_commit_callbacks):
    make_world(settings={"latency_ms": 5000, "sync": {**SHORT, "retry_base_seconds": 60}})
    [job] = pending_jobs(1)

    with django_capture_on_commit_callbacks(execute=False):
        outcome = job_post(job_id=job.pk, actor=None)

    job.refresh_from_db()
    [attempt] = job.attempt_log.all()
    # Recorded by its own worker (not "stale"): the call gave up before the lease ended.
    assert outcome == "retry" and job.state == SyncJobState.RETRY_WAIT
    assert "timed out" in attempt.error_message
    assert attempt.duration_ms < SHORT["call_timeout_seconds"] * 1000 + 500
    assert jobs_reclaim_expired(actor=None) == 0

    # The sandbox had committed the document before the answer was lost: the retry finds it.
    from erp_sync.models import Connection

    Connection.objects.filter(pk=job.connection_id).update(settings={"latency_ms": 0})
    make_due(job)
    with django_capture_on_commit_callbacks(execute=False):
        assert job_post(job_id=job.pk, actor=None) == "posted"
    job.refresh_from_db()
    assert job.attempt_log.order_by("number").last().outcome == AttemptOutcome.FOUND_EXISTING
    assert documents_for(job) == 1


def test_batch_calls_a_job_only_when_a_whole_call_fits_in_the_lease(
    django_capture_on_commit_callbacks,
):
    # The slot and the leases last 3 s; a call may take 1 s and must end 1 s before them:
    # with 700 ms calls, the third job cannot be called under this batch's lease.
    make_world(settings={"latency_ms": 700, "sync": SHORT})
    jobs = pending_jobs(3)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert job_post(job_id=jobs[0].pk, actor=None, batch_size=3) == "posted"

    last = SyncJob.objects.get(pk=jobs[2].pk)
    assert last.state == SyncJobState.PENDING and last.attempts == 0
    assert not last.attempt_log.exists()
    assert len(queued) == 1  # given back and enqueued again
    for job in SyncJob.objects.filter(state=SyncJobState.POSTED):
        [attempt] = job.attempt_log.all()
        started = job.history.get(history_change_reason="attempt 1 started")
        ended = attempt.started_at + dt.timedelta(milliseconds=attempt.duration_ms)
        margin = dt.timedelta(seconds=SHORT["lease_margin_seconds"])
        assert ended <= started.lease_expires_at - margin
