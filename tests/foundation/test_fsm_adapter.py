"""config/fsm.py: what the set-based paths read from django-fsm, pinned across upgrades."""

import pytest
from django_fsm import ConcurrentTransition

from config.fsm import (
    concurrent_state_attnames,
    mark_states_saved,
    saved_states,
    transition_states,
)
from erp_sync.choices import SyncJobState
from erp_sync.models import SyncJob
from exceptions.models import Case
from tests.erp_sync.job_helpers import make_world, pending_jobs


def test_transition_states_reads_the_declaration():
    start = transition_states(SyncJob, "start")
    assert start.field == "state"
    assert set(start.sources) == {SyncJobState.PENDING, SyncJobState.RETRY_WAIT}
    assert start.target == SyncJobState.IN_FLIGHT


def test_transition_states_unknown_name_raises():
    with pytest.raises(LookupError, match="no FSM transition 'fly'"):
        transition_states(SyncJob, "fly")


def test_concurrent_state_attnames_lists_the_fsm_fields():
    assert concurrent_state_attnames(SyncJob) == ("state",)
    assert concurrent_state_attnames(Case) == ("state",)


@pytest.mark.django_db
def test_mark_states_saved_makes_a_later_save_check_the_written_state():
    """A row written behind the instance's back (as a set-based path does) and then marked
    saved: the next save() succeeds while the row is in that state, and is refused as a
    concurrent transition once another writer moved it on. If django-fsm stops reading the
    saved states where config.fsm writes them, this test fails."""
    make_world()
    (job,) = pending_jobs(1)
    SyncJob.objects.filter(pk=job.pk).update(state=SyncJobState.HELD)  # the set-based write
    job.__dict__["state"] = SyncJobState.HELD
    mark_states_saved(job)
    job.hold_reason = "maintenance"
    job.save(update_fields=["hold_reason"])  # expects HELD: the row is HELD

    SyncJob.objects.filter(pk=job.pk).update(state=SyncJobState.PENDING)  # someone else
    job.hold_reason = "other"
    with pytest.raises(ConcurrentTransition):
        job.save(update_fields=["hold_reason"])


@pytest.mark.django_db
def test_saved_states_follow_load_save_and_mark():
    make_world()
    (job,) = pending_jobs(1)
    job = SyncJob.objects.get(pk=job.pk)
    assert saved_states(job) == {"state": SyncJobState.PENDING}
    job.__dict__["state"] = SyncJobState.HELD
    assert saved_states(job) == {"state": SyncJobState.PENDING}
    mark_states_saved(job)
    assert saved_states(job) == {"state": SyncJobState.HELD}
