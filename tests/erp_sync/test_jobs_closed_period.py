"""A posting into a period the ERP reports closed follows the connection's policy."""

import datetime as dt

import pytest

from billing.choices import ErpStatus
from erp_sync.choices import ClosedPeriodPolicy, HoldReason, SyncJobState
from erp_sync.models import SandboxDocument
from exceptions.models import Case
from tests.erp_sync.factories import make_invoice, sandbox_close_month
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
MAY = dt.date(2026, 5, 14)


def test_closed_period_hold_policy_holds_with_case(django_capture_on_commit_callbacks):
    world = make_world(closed_period_policy=ClosedPeriodPolicy.HOLD)
    sandbox_close_month(world["connection"], MAY)
    invoice = make_invoice(issue_date=MAY)

    [job] = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)

    job.refresh_from_db()
    invoice.refresh_from_db()
    assert job.state == SyncJobState.HELD
    assert job.hold_reason == HoldReason.CLOSED_PERIOD
    assert invoice.erp_status == ErpStatus.HELD
    case = Case.objects.get(kind="closed_period", items__subject_id=str(job.pk))
    assert case.period == "2026-05"
    assert case.subject == world["connection"]
    assert case.item_count == 1
    assert case.detail["policy"] == ClosedPeriodPolicy.HOLD
    assert not SandboxDocument.objects.exists()


def test_closed_period_post_next_open_moves_date_keeps_original(
    django_capture_on_commit_callbacks,
):
    world = make_world(closed_period_policy=ClosedPeriodPolicy.POST_NEXT_OPEN)
    sandbox_close_month(world["connection"], MAY)
    invoice = make_invoice(issue_date=MAY)

    [job] = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert job.state == SyncJobState.POSTED
    assert job.posting_date == dt.date(2026, 6, 1)
    assert job.attempt_log.count() == 2
    document = SandboxDocument.objects.get()
    assert document.document_date == dt.date(2026, 6, 1)
    assert document.body["extra"]["original_date"] == "2026-05-14"
    assert not Case.objects.exists()


def test_closed_period_next_month_closed_too_holds(django_capture_on_commit_callbacks):
    world = make_world(closed_period_policy=ClosedPeriodPolicy.POST_NEXT_OPEN)
    sandbox_close_month(world["connection"], MAY)
    sandbox_close_month(world["connection"], dt.date(2026, 6, 1))

    [job] = dispatch(make_invoice(issue_date=MAY).event, capture=django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert job.state == SyncJobState.HELD
    assert job.hold_reason == HoldReason.CLOSED_PERIOD
    assert Case.objects.filter(kind="closed_period").count() == 1
