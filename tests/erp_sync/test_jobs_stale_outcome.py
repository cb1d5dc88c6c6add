"""A job whose row moved on between its claim and its outcome (the lease expired, the sweeper
reclaimed it, maybe another task started it again) is reported "stale" and left as it is:
the batch's outcome never overwrites it, and the rest of the batch is recorded."""

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition

from billing.choices import ErpStatus
from billing.models import Invoice
from erp_sync.adapters.sandbox import SandboxAdapter
from erp_sync.choices import SyncJobState
from erp_sync.models import SyncAttempt, SyncJob
from erp_sync.services.batch_writes import jobs_save_many
from erp_sync.services.posting import claim, job_post, outcomes
from erp_sync.services.sweeper import jobs_reclaim_expired
from erp_sync.services.tuning import tuning_for
from tests.erp_sync.job_helpers import (
    eager_celery,  # noqa: F401 (fixture)
    make_world,
    pending_jobs,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def reasons(job: SyncJob) -> list[str]:
    return list(job.history.order_by("history_id").values_list("history_change_reason", flat=True))


def take_over_during_its_call(monkeypatch, victim: SyncJob, *, restart: bool) -> None:
    """While the ERP is called for `victim`, its lease expires and the sweeper reclaims it
    (back to pending); with `restart`, another task then starts it again (attempt 2)."""
    original = SandboxAdapter.post
    done = []

    def post(adapter, document, **kwargs):
        if document.external_id == victim.external_id and not done:
            done.append(True)
            past = timezone.now() - dt.timedelta(seconds=1)
            SyncJob.objects.filter(pk=victim.pk).update(lease_expires_at=past)
            assert jobs_reclaim_expired(actor=None) == 1
            if restart:
                connection = adapter.connection
                started = claim.batch_start(
                    victim.pk, connection, tuning_for(connection), size=1, probe=False, actor=None
                )
                assert [job.pk for job in started] == [victim.pk]
        return original(adapter, document, **kwargs)

    monkeypatch.setattr(SandboxAdapter, "post", post)


@pytest.mark.parametrize("restart", [False, True], ids=["reclaimed", "reclaimed_and_restarted"])
def test_batch_job_taken_over_during_its_call_reported_stale_never_overwritten(
    monkeypatch, django_capture_on_commit_callbacks, restart
):
    make_world()
    first, victim, last = pending_jobs(3)
    take_over_during_its_call(monkeypatch, victim, restart=restart)

    # A batch size above the ready jobs: one batch, no second one for the reclaimed job.
    with django_capture_on_commit_callbacks(execute=False):
        assert job_post(job_id=victim.pk, actor=None, batch_size=4) == "stale"

    victim.refresh_from_db()
    expected = (SyncJobState.IN_FLIGHT, 2) if restart else (SyncJobState.PENDING, 1)
    assert (victim.state, victim.attempts) == expected
    assert victim.erp_number == "" and victim.posted_at is None
    assert not any(reason.startswith("posted") for reason in reasons(victim))
    assert not SyncAttempt.objects.filter(job=victim).exists()
    assert Invoice.objects.get(event_id=victim.event_id).erp_status == ErpStatus.PENDING
    # The rest of the batch is recorded.
    for job in (first, last):
        job.refresh_from_db()
        assert job.state == SyncJobState.POSTED
        assert reasons(job)[-1] == f"posted as {job.erp_number}"


def test_jobs_save_many_row_moved_on_raises_naming_it_and_writes_nothing():
    make_world()
    kept, moved = pending_jobs(2)
    lease = timezone.now() + dt.timedelta(minutes=1)
    for job in (kept, moved):
        job.start(lease_expires_at=lease)
        job.save()
    other_worker = SyncJob.objects.get(pk=moved.pk)
    other_worker.reclaim()
    other_worker.save()
    for number, job in enumerate((kept, moved)):
        job.succeed(erp_id=str(number), erp_number=f"N{number}")

    with (
        pytest.raises(ConcurrentTransition, match=rf"\b{moved.pk}\b") as raised,
        transaction.atomic(),
    ):
        jobs_save_many([kept, moved], fields=["state", "erp_id", "erp_number"])

    assert str(kept.pk) not in str(raised.value).split(":")[0].split()
    states = dict(SyncJob.objects.values_list("pk", "state"))
    assert states == {kept.pk: SyncJobState.IN_FLIGHT, moved.pk: SyncJobState.PENDING}
    assert not SyncJob.history.filter(state=SyncJobState.POSTED).exists()


def test_batch_row_moved_after_the_check_is_recorded_again_and_reported_stale(
    monkeypatch, django_capture_on_commit_callbacks
):
    """Defence in depth: should a row move after the batch checked it (the check runs under
    the rows' locks, so only something bypassing them could), the set-based write refuses
    it (ConcurrentTransition), nothing of the batch is kept, and the batch is recorded again
    from a fresh check."""
    make_world()
    first, victim, last = pending_jobs(3)
    take_over_during_its_call(monkeypatch, victim, restart=False)
    real_check = outcomes.current_attempts
    checks = []

    def blind_first_check(jobs):
        checks.append(len(jobs))
        if len(checks) == 1:  # the view of the claim, as if nothing had moved
            return {job.pk: (SyncJobState.IN_FLIGHT, job.attempts) for job in jobs}
        return real_check(jobs)

    monkeypatch.setattr(outcomes, "current_attempts", blind_first_check)

    with django_capture_on_commit_callbacks(execute=False):
        assert job_post(job_id=first.pk, actor=None, batch_size=4) == "posted"

    assert checks == [3, 3]
    victim.refresh_from_db()
    assert (victim.state, victim.attempts) == (SyncJobState.PENDING, 1)
    assert not SyncAttempt.objects.filter(job=victim).exists()
    for job in (first, last):
        job.refresh_from_db()
        assert job.state == SyncJobState.POSTED
        # Recorded once: the first try was rolled back whole.
        assert reasons(job).count(f"posted as {job.erp_number}") == 1
        assert job.attempt_log.count() == 1
