"""The fix of a closed-period case (issue 11): a plain replay while the period is closed says
it cannot succeed (no move, no history); the held jobs are posted into the next open period
the ERP names, their document dates kept, audited under the person who asked; the case
resolves; the sweeper releases them when the ERP reopens the period."""

import datetime as dt
from decimal import Decimal

import pytest

from billing.choices import ErpStatus
from billing.models import Invoice
from erp_sync.choices import BulkActionState, ClosedPeriodPolicy, HoldReason, SyncJobState
from erp_sync.models import SandboxDocument, SandboxPeriod, SyncJob
from erp_sync.services import periods
from erp_sync.services.common import SyncJobError
from erp_sync.services.jobs import job_replay
from erp_sync.services.period_fix import closed_period_post_start, closed_period_wait
from erp_sync.services.sweeper import sync_sweep
from exceptions.models import Case
from exceptions.remediation import case_guide, case_remediate
from tests.erp_sync.factories import make_invoice, sandbox_close_month
from tests.erp_sync.job_helpers import (
    dispatch,
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
MAY = dt.date(2026, 5, 14)
JUNE = dt.date(2026, 6, 1)
JULY = dt.date(2026, 7, 1)


def _held(capture, count: int = 2, *, close=(MAY,), policy=ClosedPeriodPolicy.HOLD):
    world = make_world(closed_period_policy=policy)
    for day in close:
        sandbox_close_month(world["connection"], day)
    jobs = []
    for _ in range(count):
        [job] = dispatch(make_invoice(issue_date=MAY).event, capture=capture)
        job.refresh_from_db()
        assert job.state == SyncJobState.HELD and job.hold_reason == HoldReason.CLOSED_PERIOD
        jobs.append(job)
    case = Case.objects.get(kind="closed_period")
    return world, jobs, case


def test_replay_while_period_closed_says_it_cannot_succeed_and_writes_nothing(
    django_capture_on_commit_callbacks, role_users
):
    _world, [job], case = _held(django_capture_on_commit_callbacks, 1)
    ops = role_users["finance_ops"]
    rows = job.history.count()

    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(SyncJobError) as refused,
    ):
        job_replay(job=job, actor=ops, reason="try again")

    assert refused.value.code == "period_closed"
    assert "2026-05 is still closed" in refused.value.message
    assert "cannot succeed" in refused.value.message
    job.refresh_from_db()
    assert job.state == SyncJobState.HELD and job.attempts == 1
    assert job.history.count() == rows
    assert not callbacks
    case.refresh_from_db()
    assert case.occurrences == 1
    assert not case.history.filter(history_user=ops).exists()


def test_case_replay_of_closed_period_case_refuses_with_a_clear_message(
    django_capture_on_commit_callbacks, role_users
):
    _, jobs, case = _held(django_capture_on_commit_callbacks, 2)

    with pytest.raises(SyncJobError, match="cannot succeed"):
        case_remediate(case=case, key="replay", actor=role_users["finance_ops"])

    assert all(SyncJob.objects.get(pk=j.pk).state == SyncJobState.HELD for j in jobs)


def test_replay_after_period_reopened_goes_ahead_credited_to_the_person(
    django_capture_on_commit_callbacks, role_users
):
    world, [job], _case = _held(django_capture_on_commit_callbacks, 1)
    SandboxPeriod.objects.filter(connection=world["connection"]).delete()
    ops = role_users["finance_ops"]

    with django_capture_on_commit_callbacks(execute=True):
        result = job_replay(job=job, actor=ops, reason="May reopened")

    assert result.replayed
    job.refresh_from_db()
    assert job.state == SyncJobState.POSTED
    assert job.history.filter(history_user=ops, history_change_reason__contains="May").exists()


def test_next_open_period_asks_the_erp_past_closed_months(django_capture_on_commit_callbacks):
    world, _, _ = _held(django_capture_on_commit_callbacks, 1, close=(MAY, JUNE))
    connection = world["connection"]

    assert periods.period_open(connection, MAY) is False
    assert periods.period_open(connection, JULY) is True
    assert periods.next_open_period(connection, MAY) == (JULY, True)


def test_next_open_period_without_an_answer_is_the_next_month(
    django_capture_on_commit_callbacks, monkeypatch
):
    world, _, _ = _held(django_capture_on_commit_callbacks, 1, close=(MAY, JUNE))
    from erp_sync.adapters.sandbox import SandboxAdapter

    monkeypatch.delattr(SandboxAdapter, "next_open_period")
    monkeypatch.delattr(SandboxAdapter, "period_open")

    assert periods.next_open_period(world["connection"], MAY) == (JUNE, False)
    assert periods.period_open(world["connection"], MAY) is None


def test_post_next_open_moves_and_posts_each_job_once_and_resolves_the_case(
    django_capture_on_commit_callbacks, role_users
):
    _world, jobs, case = _held(django_capture_on_commit_callbacks, 3, close=(MAY, JUNE))
    ops = role_users["finance_ops"]

    with django_capture_on_commit_callbacks(execute=True):
        action = closed_period_post_start(case=case, actor=ops, reason="May and June are closed")

    action.refresh_from_db()
    assert action.state == BulkActionState.COMPLETED
    assert action.posting_date == JULY
    assert action.counts["posted"] == 3 and action.done == 3
    for job in jobs:
        job.refresh_from_db()
        assert job.state == SyncJobState.POSTED
        assert job.posting_date == JULY
        assert documents_for(job) == 1
        document = SandboxDocument.objects.get(external_id=job.external_id)
        assert document.document_date == JULY
        assert document.body["extra"]["original_date"] == MAY.isoformat()
        moved = job.history.get(history_change_reason__startswith="moved to period 2026-07")
        assert moved.history_user == ops
        assert "date 2026-05-14 kept" in moved.history_change_reason
        assert job.history.filter(history_user=ops, state=SyncJobState.POSTED).exists()
        invoice = Invoice.objects.get(invoice_id=job.event.data["invoice_id"])
        assert invoice.erp_status == ErpStatus.POSTED
    case.refresh_from_db()
    assert case.state == "resolved"
    resolved = case.history.filter(state="resolved").get()
    assert resolved.history_user == ops
    assert "into 2026-07" in resolved.history_change_reason
    assert "into July 2026" in case.comments.get().body


def test_post_next_open_into_a_closed_month_holds_them_again_honestly(
    django_capture_on_commit_callbacks, role_users
):
    world, _jobs, case = _held(django_capture_on_commit_callbacks, 2)
    sandbox_close_month(world["connection"], JUNE)  # closed after the guide was read

    with django_capture_on_commit_callbacks(execute=True):
        action = closed_period_post_start(
            case=case, actor=role_users["finance_ops"], posting_date=JUNE
        )

    action.refresh_from_db()
    assert action.counts["held_again"] == 2 and action.counts["posted"] == 0
    assert not SandboxDocument.objects.exists()
    assert Case.objects.filter(kind="closed_period", period="2026-06", state="open").exists()


def test_post_next_open_started_twice_runs_once(django_capture_on_commit_callbacks, role_users):
    _, _jobs, case = _held(django_capture_on_commit_callbacks, 2)
    ops = role_users["finance_ops"]

    # The task does not run: the second click comes while the first is still running.
    first = closed_period_post_start(case=case, actor=ops)
    second = closed_period_post_start(case=case, actor=ops)

    assert first.pk == second.pk
    assert case.comments.count() == 1


def test_post_next_open_refuses_a_period_not_after_the_closed_one(
    django_capture_on_commit_callbacks, role_users
):
    _, _, case = _held(django_capture_on_commit_callbacks, 1)

    with pytest.raises(SyncJobError) as refused:
        closed_period_post_start(
            case=case, actor=role_users["finance_ops"], posting_date=dt.date(2026, 5, 1)
        )

    assert refused.value.code == "period_not_after"


def test_move_is_skipped_for_a_job_no_longer_held(django_capture_on_commit_callbacks, role_users):
    _, [job], _ = _held(django_capture_on_commit_callbacks, 1)
    SandboxPeriod.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        job_replay(job=job, actor=role_users["finance_ops"])
    rows = job.history.count()

    outcome = periods.job_move_to_period(
        job_id=job.pk, posting_date=JULY, actor=role_users["finance_ops"], reason="late"
    )

    assert outcome == "skipped"
    assert job.history.count() == rows


def test_sweeper_releases_jobs_when_the_erp_reopens_the_period(
    django_capture_on_commit_callbacks,
):
    world, jobs, case = _held(django_capture_on_commit_callbacks, 2)
    with django_capture_on_commit_callbacks(execute=True):
        assert periods.jobs_release_reopened(actor=None, force=True) == 0
    assert periods.periods_next_check(world["connection"]) is not None

    SandboxPeriod.objects.filter(connection=world["connection"]).delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert sync_sweep(actor=None)["reopened"] == 0  # asked a moment ago: not yet again
        assert periods.jobs_release_reopened(actor=None, force=True) == 2

    assert all(SyncJob.objects.get(pk=j.pk).state == SyncJobState.POSTED for j in jobs)
    case.refresh_from_db()
    assert case.state == "resolved"


def test_wait_acknowledges_and_notes_the_check(django_capture_on_commit_callbacks, role_users):
    _, _, case = _held(django_capture_on_commit_callbacks, 1)
    ops = role_users["finance_ops"]

    closed_period_wait(case=case, actor=ops)
    closed_period_wait(case=case, actor=ops)

    case.refresh_from_db()
    assert case.state == "acknowledged" and case.owner == ops
    assert "every 5 minutes" in case.comments.get().body


def test_guide_names_period_money_policy_and_next_open_period(
    django_capture_on_commit_callbacks, role_users
):
    _world, jobs, case = _held(django_capture_on_commit_callbacks, 2, close=(MAY, JUNE))

    guide = case_guide(case, role_users["finance_ops"])

    assert guide.template == "erp_sync/guides/closed_period.html"
    context = guide.context
    assert context["closed_month"] == dt.date(2026, 5, 1)
    assert context["held"] == 2
    assert context["target"] == JULY and context["target_named_by_erp"]
    assert context["totals"][0]["value"] == sum(
        (Decimal(j.event.data["total"]) for j in jobs), Decimal(0)
    )
    assert context["can_post"] and context["can_wait"]
    assert not case_guide(case, role_users["auditor"]).context["can_post"]
