"""The Celery task: enqueued by name once the start commits, runs inline without a broker,
and a run that is gone is logged and skipped."""

from types import SimpleNamespace

import pytest

from exceptions.models import Case
from reconciliation.choices import RunState
from reconciliation.models import Break, ReconciliationRun
from reconciliation.services.runs import run_start
from reconciliation.tasks import RUN_EXECUTE, run_execute_task
from tests.reconciliation.factories import (
    MAY_END,
    MAY_START,
    ConnectionFactory,
    CustomerFactory,
    LegalEntityFactory,
    make_invoice,
)

pytestmark = pytest.mark.django_db


def test_run_start_without_broker_executes_inline_on_commit(
    finance_ops, django_capture_on_commit_callbacks, monkeypatch
):
    connection = ConnectionFactory(entity=LegalEntityFactory(code="US01"))
    customer = CustomerFactory(entity=connection.entity, customer_id="cus_acme")
    make_invoice(entity=connection.entity, customer=customer, invoice_id="INV-1")
    eager = SimpleNamespace(
        conf=SimpleNamespace(task_always_eager=True), tasks={RUN_EXECUTE: run_execute_task}
    )
    monkeypatch.setattr("reconciliation.services.runs.celery_app", eager)

    with django_capture_on_commit_callbacks(execute=True):
        run = run_start(
            entity=connection.entity, period_start=MAY_START, period_end=MAY_END, actor=finance_ops
        )

    run.refresh_from_db()
    assert run.state == RunState.COMPLETED
    assert (run.billing_row_count, run.erp_row_count, run.break_count) == (1, 0, 1)
    item = Break.objects.get()
    case = Case.objects.get(subject_id=str(item.pk))
    assert (case.kind, case.entity, case.customer, case.period) == (
        "reconciliation_missing_in_erp",
        "US01",
        "cus_acme",
        "2026-05",
    )
    assert run.history.first().history_user.username == "system:reconciliation"


def test_run_execute_task_for_deleted_run_returns_gone():
    assert run_execute_task(run_id=987654) == "gone"
    assert not ReconciliationRun.objects.exists()
