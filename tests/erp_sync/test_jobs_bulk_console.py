"""Bulk replay / cancel of sync jobs from the console (issue 11, "Sync jobs"): by the ticked
jobs or by the list's filter, a confirmation naming the count first, audited per job and per
action, progress recorded as it goes; documents named by their business number; state
counters that keep counting the other states when a state filter is on."""

import pytest
from django.test import Client
from django.test.utils import CaptureQueriesContext

from erp_sync.choices import BulkActionState, SyncJobState
from erp_sync.models import SyncJob, SyncJobBulkAction
from erp_sync.services import bulk
from erp_sync.services.common import SyncJobError
from tests.erp_sync.factories import RECEIVABLE, make_invoice
from tests.erp_sync.job_helpers import (
    dispatch,
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def _dead_jobs(capture, count: int) -> tuple[list[SyncJob], dict]:
    """`count` invoice jobs left dead by an ERP that rejects the receivable account."""
    world = make_world(settings={"reject_accounts": [RECEIVABLE]})
    jobs = []
    for _ in range(count):
        [job] = dispatch(make_invoice().event, capture=capture)
        job.refresh_from_db()
        assert job.state == SyncJobState.DEAD
        jobs.append(job)
    return jobs, world


def _accept_everything(connection) -> None:
    connection.settings = {}
    connection.save(update_fields=["settings"])


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_bulk_replay_of_ticked_jobs_asks_first_then_posts_each_once(
    django_capture_on_commit_callbacks, role_users
):
    jobs, world = _dead_jobs(django_capture_on_commit_callbacks, 3)
    _accept_everything(world["connection"])
    ops = _client(role_users["finance_ops"])
    ticked = {"action": "replay", "scope": "selected", "job": [jobs[0].pk, jobs[2].pk]}

    asked = ops.post("/erp/jobs/bulk", {**ticked, "reason": "ERP account reopened"})

    assert asked.status_code == 200
    assert "Replay 2 sync jobs?" in asked.content.decode()
    assert not SyncJobBulkAction.objects.exists()
    assert SyncJob.objects.filter(state=SyncJobState.DEAD).count() == 3

    with django_capture_on_commit_callbacks(execute=True):
        done = ops.post(
            "/erp/jobs/bulk", {**ticked, "reason": "ERP account reopened", "confirm": "yes"}
        )

    action = SyncJobBulkAction.objects.get()
    assert done.status_code == 302 and done.url == f"/erp/jobs/bulk/{action.pk}/"
    assert action.state == BulkActionState.COMPLETED
    assert (action.total, action.done) == (2, 2)
    assert action.counts == {"replayed": 2, "already_posted": 0, "failed": 0, "skipped": 0}
    for job in jobs:
        job.refresh_from_db()
    assert [job.state for job in jobs] == [
        SyncJobState.POSTED,
        SyncJobState.DEAD,
        SyncJobState.POSTED,
    ]
    assert documents_for(jobs[0]) == documents_for(jobs[2]) == 1
    replayed = jobs[0].history.filter(history_change_reason__contains=f"bulk #{action.pk}")
    assert replayed.get().history_user == role_users["finance_ops"]
    assert "ERP account reopened" in replayed.get().history_change_reason
    reasons = list(action.history.order_by("history_id").values_list("history_change_reason"))
    assert reasons == [
        ("bulk replay of 2 jobs asked: ERP account reopened",),
        ("completed: 2 replayed",),
    ]
    page = ops.get(f"/erp/jobs/bulk/{action.pk}/").content.decode()
    assert "2 of 2" in page and "2 replayed" in page and "ERP account reopened" in page


def test_bulk_cancel_by_filter_needs_a_reason_and_cancels_only_what_matches(
    django_capture_on_commit_callbacks, role_users
):
    _jobs, world = _dead_jobs(django_capture_on_commit_callbacks, 2)
    _accept_everything(world["connection"])
    [posted] = dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)
    posted.refresh_from_db()
    assert posted.state == SyncJobState.POSTED
    ops = _client(role_users["finance_ops"])
    by_filter = {"action": "cancel", "scope": "filter", "query": "state=dead", "confirm": "yes"}

    refused = ops.post("/erp/jobs/bulk", {**by_filter, "reason": " "})
    assert refused.status_code == 302
    assert not SyncJobBulkAction.objects.exists()

    asked = ops.post("/erp/jobs/bulk", {**by_filter, "confirm": "", "reason": "booked by hand"})
    assert "Cancel 2 sync jobs?" in asked.content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        ops.post("/erp/jobs/bulk", {**by_filter, "reason": "booked by hand"})

    action = SyncJobBulkAction.objects.get()
    assert action.scope == "filter: state=dead"
    assert action.counts == {"cancelled": 2, "skipped": 0}
    assert set(SyncJob.objects.values_list("state", flat=True)) == {
        SyncJobState.CANCELLED,
        SyncJobState.POSTED,
    }
    posted.refresh_from_db()
    assert posted.state == SyncJobState.POSTED


@pytest.mark.parametrize(
    ("role", "action", "expected"),
    [("auditor", "replay", 403), ("integration_admin", "cancel", 403)],
)
def test_bulk_actions_check_the_permission_of_the_action(
    django_capture_on_commit_callbacks, role_users, role, action, expected
):
    jobs, _ = _dead_jobs(django_capture_on_commit_callbacks, 1)
    client = _client(role_users[role])
    answer = client.post(
        "/erp/jobs/bulk",
        {
            "action": action,
            "scope": "selected",
            "job": [jobs[0].pk],
            "reason": "x",
            "confirm": "yes",
        },
    )
    assert answer.status_code == expected
    assert not SyncJobBulkAction.objects.exists()
    jobs[0].refresh_from_db()
    assert jobs[0].state == SyncJobState.DEAD


def test_a_redelivered_run_resumes_from_its_progress(django_capture_on_commit_callbacks, make_user):
    jobs, world = _dead_jobs(django_capture_on_commit_callbacks, 3)
    _accept_everything(world["connection"])
    person = make_user("ops", "finance_ops")
    action = bulk.bulk_action_start(
        kind="replay",
        jobs=SyncJob.objects.filter(pk__in=[job.pk for job in jobs]),
        actor=person,
        scope="selected",
    )  # not run: its task is sent on commit, which this test does not execute
    # A worker handled the first job, recorded it, then died: the message comes again.
    with django_capture_on_commit_callbacks(execute=True):
        first = bulk._one(action, jobs[0], person)
        SyncJobBulkAction.objects.filter(pk=action.pk).update(done=1, counts={"replayed": 1})
        bulk.bulk_action_run(action_id=action.pk)
        bulk.bulk_action_run(action_id=action.pk)  # and once more: a completed one is left

    action.refresh_from_db()
    assert first == "replayed"
    assert (action.state, action.done) == (BulkActionState.COMPLETED, 3)
    assert action.counts["replayed"] == 3
    assert [documents_for(job) for job in jobs] == [1, 1, 1]


def test_start_refuses_nothing_and_too_many(
    django_capture_on_commit_callbacks, make_user, settings
):
    _jobs, _ = _dead_jobs(django_capture_on_commit_callbacks, 2)
    person = make_user("ops", "finance_ops")
    with pytest.raises(SyncJobError) as nothing:
        bulk.bulk_action_start(kind="replay", jobs=SyncJob.objects.none(), actor=person)
    settings.CONCORD_BULK_ACTION_MAX = 1
    with pytest.raises(SyncJobError) as too_many:
        bulk.bulk_action_start(kind="replay", jobs=SyncJob.objects.all(), actor=person)
    assert (nothing.value.code, too_many.value.code) == ("nothing_selected", "too_many")
    assert "narrow the filter" in too_many.value.message
    assert not SyncJobBulkAction.objects.exists()


def test_list_names_documents_by_business_number_and_counts_other_states(
    django_capture_on_commit_callbacks, role_users
):
    jobs, world = _dead_jobs(django_capture_on_commit_callbacks, 2)
    _accept_everything(world["connection"])
    invoice = make_invoice()
    dispatch(invoice.event, capture=django_capture_on_commit_callbacks)
    client = _client(role_users["auditor"])

    page = client.get("/erp/jobs/?state=dead")

    html = page.content.decode()
    counts = page.context["counts"]
    assert counts[SyncJobState.DEAD] == 2 and counts[SyncJobState.POSTED] == 1
    assert page.context["chosen_states"] == ["dead"]
    assert invoice.invoice_id not in html  # posted: filtered out of the rows
    for job in jobs:
        assert job.event.data["invoice_id"] in html
    assert 'class="active"' in html
    assert "bulk-bar" not in html  # the auditor has no action


def test_job_list_with_bulk_bar_query_count_does_not_grow(
    django_capture_on_commit_callbacks, role_users
):
    from django.db import connection

    _dead_jobs(django_capture_on_commit_callbacks, 2)
    client = _client(role_users["finance_ops"])
    client.get("/erp/jobs/")

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/erp/jobs/").status_code == 200
        return len(queries)

    few = count()
    for _ in range(5):
        dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)
    assert count() == few


def test_replay_after_an_erp_rejection_numbers_its_attempt_after_the_earlier_ones(
    django_capture_on_commit_callbacks, make_user
):
    """A replay starts a new retry budget; the attempt numbers go on (they were reused, and
    the (job, number) constraint made the post fail after every ERP rejection)."""
    from erp_sync.services.jobs import job_replay

    [job], world = _dead_jobs(django_capture_on_commit_callbacks, 1)
    _accept_everything(world["connection"])
    before = sorted(job.attempt_log.values_list("number", flat=True))
    assert before  # the ERP rejected it: at least one attempt is on record

    with django_capture_on_commit_callbacks(execute=True):
        job_replay(job=job, actor=make_user("ops", "finance_ops"), reason="account fixed")

    job.refresh_from_db()
    numbers = sorted(job.attempt_log.values_list("number", flat=True))
    assert job.state == SyncJobState.POSTED
    assert numbers == [*before, len(before) + 1]
    assert (job.earlier_attempts, job.attempts) == (len(before), 1)
