"""Cancel: reason required, audited (actor + reason), record back to not_sent."""

import pytest

from billing.choices import ErpStatus
from erp_sync.choices import SyncJobState
from erp_sync.services.common import SyncJobError
from erp_sync.services.jobs import job_cancel, job_replay
from exceptions.models import Case, CaseState
from tests.erp_sync.factories import RECEIVABLE, make_invoice
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def _dead_job(capture):
    make_world(settings={"reject_accounts": [RECEIVABLE]})
    invoice = make_invoice()
    [job] = dispatch(invoice.event, capture=capture)
    job.refresh_from_db()
    assert job.state == SyncJobState.DEAD
    return job, invoice


def test_cancel_without_reason_refused(django_capture_on_commit_callbacks, make_user):
    job, _ = _dead_job(django_capture_on_commit_callbacks)
    with pytest.raises(SyncJobError) as refused:
        job_cancel(job=job, actor=make_user("ops", "finance_ops"), reason="  ")
    assert refused.value.code == "reason_required"
    job.refresh_from_db()
    assert job.state == SyncJobState.DEAD


def test_cancel_dead_job_records_actor_reason_and_resolves_case(
    django_capture_on_commit_callbacks, make_user
):
    job, invoice = _dead_job(django_capture_on_commit_callbacks)
    person = make_user("ops", "finance_ops")

    job = job_cancel(job=job, actor=person, reason="booked by hand in the ERP")
    again = job_cancel(job=job, actor=person, reason="twice")

    invoice.refresh_from_db()
    assert job.state == again.state == SyncJobState.CANCELLED
    assert job.cancel_reason == "booked by hand in the ERP"
    row = job.history.latest("history_date")
    assert row.history_user == person
    assert row.history_change_reason == "cancelled: booked by hand in the ERP"
    assert job.history.filter(state=SyncJobState.CANCELLED).count() == 1  # idempotent
    assert invoice.erp_status == ErpStatus.NOT_SENT
    assert Case.objects.get(kind="erp_rejected").state == CaseState.RESOLVED


def test_cancel_posted_job_refused(django_capture_on_commit_callbacks):
    make_world()
    [job] = dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)
    with pytest.raises(SyncJobError) as refused:
        job_cancel(job=job, actor=None, reason="no")
    assert refused.value.code == "illegal_transition"


def test_replay_posted_job_is_a_noop_with_message(django_capture_on_commit_callbacks):
    make_world()
    [job] = dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)
    job.refresh_from_db()

    result = job_replay(job=job, actor=None)

    assert result.replayed is False
    assert result.message == f"already posted as {job.erp_number}"
