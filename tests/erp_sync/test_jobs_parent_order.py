"""Order drill: a payment (credit note, refund) whose invoice is not in the ERP waits."""

import pytest

from billing.choices import ErpStatus
from erp_sync.choices import AttemptOutcome, HoldReason, SyncJobState
from erp_sync.models import SyncJob
from exceptions.models import Case
from tests.erp_sync.factories import make_credit_note, make_invoice, make_payment
from tests.erp_sync.job_helpers import (
    CallCounter,
    dispatch,
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def test_payment_before_invoice_held_then_posted_after_invoice(
    django_capture_on_commit_callbacks,
):
    make_world()
    invoice = make_invoice()
    payment = make_payment(invoice=invoice)

    [pay_job] = dispatch(payment.event, capture=django_capture_on_commit_callbacks)
    pay_job.refresh_from_db()
    payment.refresh_from_db()
    assert pay_job.state == SyncJobState.HELD
    assert pay_job.hold_reason == HoldReason.AWAITING_PARENT
    assert pay_job.attempt_log.get().outcome == AttemptOutcome.HELD
    assert payment.erp_status == ErpStatus.HELD
    assert not Case.objects.exists()  # early is not a failure

    [inv_job] = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)

    inv_job.refresh_from_db()
    pay_job.refresh_from_db()
    assert inv_job.state == SyncJobState.POSTED
    assert pay_job.state == SyncJobState.POSTED
    assert pay_job.parent_external_id == inv_job.external_id
    assert documents_for(pay_job) == 1
    assert pay_job.posted_at >= inv_job.posted_at
    release = pay_job.history.filter(history_change_reason__startswith="parent").get()
    assert release.history_user.username == "system:erp-sync"


def test_credit_note_held_at_dispatch_while_invoice_job_unposted(
    django_capture_on_commit_callbacks, monkeypatch
):
    make_world()
    invoice = make_invoice()
    note = make_credit_note(invoice=invoice)
    from erp_sync.services.dispatch import sync_jobs_create_for_event

    with django_capture_on_commit_callbacks(execute=False):
        [inv_job] = sync_jobs_create_for_event(event=invoice.event, actor=None)
    counter = CallCounter(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        [cn_job] = sync_jobs_create_for_event(event=note.event, actor=None)

    assert cn_job.state == SyncJobState.HELD
    assert cn_job.hold_reason == HoldReason.AWAITING_PARENT
    assert counter.calls == 0  # held without asking the ERP

    from erp_sync.services.posting import job_post

    with django_capture_on_commit_callbacks(execute=True):
        job_post(job_id=inv_job.pk, actor=None)

    assert counter.calls == 2
    assert set(SyncJob.objects.values_list("state", flat=True)) == {SyncJobState.POSTED}
