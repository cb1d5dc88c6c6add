"""The sweeper opens a case on a job held for a parent job that is dead or cancelled."""

import pytest

from erp_sync.actors import system_actor
from erp_sync.choices import HoldReason, SyncJobState
from erp_sync.models import SyncJob
from erp_sync.services.dispatch import sync_jobs_create_for_event
from erp_sync.services.jobs import job_replay
from erp_sync.services.sweeper import sync_sweep
from exceptions.models import Case
from tests.erp_sync.factories import make_credit_note, make_invoice
from tests.erp_sync.job_helpers import (
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def _held_child(capture) -> tuple[SyncJob, SyncJob]:
    """An invoice job left pending (its message not run) and its credit note's held job."""
    make_world()
    invoice = make_invoice()
    note = make_credit_note(invoice=invoice)
    with capture(execute=False):
        [parent] = sync_jobs_create_for_event(event=invoice.event, actor=None)
    with capture(execute=True):
        [child] = sync_jobs_create_for_event(event=note.event, actor=None)
    child.refresh_from_db()
    assert child.state == SyncJobState.HELD
    assert child.hold_reason == HoldReason.AWAITING_PARENT
    return parent, child


def _sweep_without_running_tasks(capture) -> dict:
    with capture(execute=False):
        return sync_sweep(actor=system_actor())


def _cases(job: SyncJob):
    return Case.objects.filter(subject_id=str(job.pk), kind="parent_failed")


@pytest.mark.parametrize("parent_state", [SyncJobState.DEAD, SyncJobState.CANCELLED])
def test_sweep_parent_failed_opens_case_on_held_child(
    django_capture_on_commit_callbacks, parent_state
):
    parent, child = _held_child(django_capture_on_commit_callbacks)
    SyncJob.objects.filter(pk=parent.pk).update(state=parent_state)

    counts = _sweep_without_running_tasks(django_capture_on_commit_callbacks)

    case = _cases(child).get()
    assert counts["parent_failed"] == 1
    assert case.state == "open"
    assert str(parent.pk) in case.title and parent_state in case.title
    assert case.detail["parent_state"] == parent_state
    child.refresh_from_db()
    assert child.state == SyncJobState.HELD


def test_sweep_parent_failed_twice_bumps_one_case(django_capture_on_commit_callbacks):
    parent, child = _held_child(django_capture_on_commit_callbacks)
    SyncJob.objects.filter(pk=parent.pk).update(state=SyncJobState.DEAD)

    _sweep_without_running_tasks(django_capture_on_commit_callbacks)
    _sweep_without_running_tasks(django_capture_on_commit_callbacks)

    assert _cases(child).get().occurrences == 2


def test_sweep_parent_pending_opens_no_case(django_capture_on_commit_callbacks):
    parent, child = _held_child(django_capture_on_commit_callbacks)

    counts = _sweep_without_running_tasks(django_capture_on_commit_callbacks)

    parent.refresh_from_db()
    child.refresh_from_db()
    assert parent.state == SyncJobState.PENDING
    assert child.state == SyncJobState.HELD
    assert counts["parent_failed"] == 0
    assert not _cases(child).exists()


def test_replayed_parent_posts_then_held_child_released_and_posted(
    django_capture_on_commit_callbacks,
):
    parent, child = _held_child(django_capture_on_commit_callbacks)
    SyncJob.objects.filter(pk=parent.pk).update(state=SyncJobState.DEAD)
    _sweep_without_running_tasks(django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        job_replay(job=parent, actor=system_actor(), reason="fixed")

    parent.refresh_from_db()
    child.refresh_from_db()
    assert parent.state == SyncJobState.POSTED
    assert child.state == SyncJobState.POSTED
    assert child.history.filter(history_change_reason__startswith="parent").exists()
    # The flag the sweeper raised on the child is resolved once the parent posted.
    assert [case.state for case in _cases(child)] == ["resolved"]
