"""On PostgreSQL: two people posting a closed period's held jobs into the next open period at
the same moment start one action, and two actions racing over the same jobs post each
document once (the job row lock decides who moves it; the loser skips it)."""

import datetime as dt
import threading

import pytest
from django.db import connection as db_connection

from erp_sync.choices import ClosedPeriodPolicy, SyncJobState
from erp_sync.models import SandboxDocument, SyncJob, SyncJobBulkAction
from erp_sync.services import bulk, period_fix
from erp_sync.services.posting.engine import job_post
from exceptions.models import Case
from tests.erp_sync.factories import make_invoice, sandbox_close_month
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("eager_celery"),
]
MAY = dt.date(2026, 5, 14)


def _side_by_side(work, count: int = 2) -> list:
    barrier = threading.Barrier(count)
    outcomes: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = work(index)
        except Exception as error:  # asserted by the caller
            outcomes[index] = error
        finally:
            db_connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.fixture
def held(monkeypatch, django_user_model):
    world = make_world(closed_period_policy=ClosedPeriodPolicy.HOLD)
    sandbox_close_month(world["connection"], MAY)
    for _ in range(4):
        dispatch(make_invoice(issue_date=MAY).event)
    # The bulk task is run by the test, not on commit.
    monkeypatch.setattr(period_fix, "bulk_action_enqueue", lambda action_id: None)
    people = [django_user_model.objects.create(username=f"ops{i}") for i in range(2)]
    return Case.objects.get(kind="closed_period"), people


def test_two_people_starting_at_once_start_one_action(held):
    case, people = held

    outcomes = _side_by_side(
        lambda i: period_fix.closed_period_post_start(case=case, actor=people[i]).pk
    )

    assert outcomes[0] == outcomes[1], outcomes
    assert SyncJobBulkAction.objects.count() == 1


def test_two_actions_racing_over_the_same_jobs_post_each_document_once(held):
    case, people = held
    first = period_fix.closed_period_post_start(case=case, actor=people[0])
    second = SyncJobBulkAction.objects.create(
        kind=first.kind,
        requested_by=people[1],
        job_ids=first.job_ids,
        total=first.total,
        counts=dict(first.counts),
        posting_date=first.posting_date,
        case=case,
    )

    outcomes = _side_by_side(lambda i: bulk.bulk_action_run(action_id=(first, second)[i].pk))

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    counts = [SyncJobBulkAction.objects.get(pk=a.pk).counts for a in (first, second)]
    # Each job is moved by one action and skipped by the other. The mover posts it at once,
    # or, when the other action holds the connection's one slot at that moment, leaves it
    # to the queue ("queued"), which the worker then posts: run here as the worker would.
    moved = [counts[i]["posted"] + counts[i]["queued"] for i in (0, 1)]
    assert sum(moved) == 4, counts
    assert counts[0]["skipped"] + counts[1]["skipped"] == 4, counts
    for job_id in SyncJob.objects.exclude(state=SyncJobState.POSTED).values_list("pk", flat=True):
        job_post(job_id=job_id, actor=None)
    assert SandboxDocument.objects.count() == 4
    for job in SyncJob.objects.all():
        assert job.state == SyncJobState.POSTED
        assert job.history.filter(history_change_reason__startswith="moved to").count() == 1
        assert job.attempt_log.filter(outcome="posted").count() == 1
    case.refresh_from_db()
    assert case.state == "resolved"
