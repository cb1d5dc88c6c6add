"""Starting a run: refusals name what is wrong; one active run per scope in the database;
an ERP failing mid-listing fails the run and leaves the previous results intact."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, transaction

from erp_sync.adapters.base import RetryableError
from reconciliation.choices import BreakState, RunState
from reconciliation.errors import ReconciliationError
from reconciliation.models import Break, ReconciliationRun
from reconciliation.services.runs import run_execute, run_start
from reconciliation.tasks import RUN_EXECUTE
from tests.reconciliation.factories import (
    MAY_END,
    MAY_START,
    ConnectionFactory,
    LegalEntityFactory,
    make_invoice,
)

pytestmark = pytest.mark.django_db


def _start(entity, actor, **kwargs):
    kwargs.setdefault("period_start", MAY_START)
    kwargs.setdefault("period_end", MAY_END)
    return run_start(entity=entity, actor=actor, **kwargs)


def test_run_start_entity_without_connection_refused(finance_ops):
    entity = LegalEntityFactory(code="DE01")

    with pytest.raises(ReconciliationError) as refused:
        _start(entity, finance_ops)

    assert refused.value.code == "no_erp_connection"
    assert "DE01" in refused.value.message
    assert not ReconciliationRun.objects.exists()


def test_run_start_future_period_refused(finance_ops):
    entity = ConnectionFactory(entity=LegalEntityFactory(code="US01")).entity

    with pytest.raises(ReconciliationError) as refused:
        _start(
            entity,
            finance_ops,
            period_start=dt.date(2027, 1, 1),
            period_end=dt.date(2027, 1, 31),
            today=dt.date(2026, 12, 7),
        )

    assert refused.value.code == "future_period"
    assert "2027-01-01" in refused.value.message


def test_run_start_while_same_scope_queued_refused(finance_ops):
    entity = ConnectionFactory(entity=LegalEntityFactory(code="US01")).entity
    first = _start(entity, finance_ops)

    with pytest.raises(ReconciliationError) as refused:
        _start(entity, finance_ops)

    assert refused.value.code == "run_already_active"
    assert f"run #{first.pk}" in refused.value.message


def test_run_start_queues_task_on_commit_and_writes_history(
    finance_ops, django_capture_on_commit_callbacks, monkeypatch
):
    entity = ConnectionFactory(entity=LegalEntityFactory(code="US01")).entity
    sent = []
    broker = SimpleNamespace(
        conf=SimpleNamespace(task_always_eager=False),
        send_task=lambda name, **kwargs: sent.append((name, kwargs)),
    )
    monkeypatch.setattr("reconciliation.services.runs.celery_app", broker)

    with django_capture_on_commit_callbacks(execute=True):
        run = _start(entity, finance_ops)

    assert run.state == RunState.QUEUED
    assert sent == [(RUN_EXECUTE, {"kwargs": {"run_id": run.pk}, "queue": "recon"})]
    row = run.history.first()
    assert (row.history_user, row.history_change_reason) == (
        finance_ops,
        "queued documents 2026-05-01..2026-05-31",
    )


def test_run_one_active_per_scope_enforced_by_database():
    connection = ConnectionFactory(entity=LegalEntityFactory(code="US01"))
    values = {
        "entity": connection.entity,
        "connection": connection,
        "period_start": MAY_START,
        "period_end": MAY_END,
    }
    ReconciliationRun.objects.create(**values)

    with pytest.raises(IntegrityError), transaction.atomic():
        ReconciliationRun.objects.create(**values)


def test_run_execute_erp_failing_mid_listing_fails_run_and_keeps_breaks(finance_ops):
    connection = ConnectionFactory(entity=LegalEntityFactory(code="US01"))
    make_invoice(entity=connection.entity, invoice_id="INV-1")
    first = _start(connection.entity, finance_ops)
    run_execute(run_id=first.pk, actor=finance_ops)
    before = list(Break.objects.values_list("key", "state", "last_seen_run"))
    assert before == [("missing_in_erp|invoice:INV-1", BreakState.OPEN, first.pk)]
    connection.settings = {"error_rate": 1.0}
    connection.save()

    failed = run_execute(run_id=_start(connection.entity, finance_ops).pk, actor=finance_ops)

    assert failed.state == RunState.FAILED
    assert "503 service unavailable" in failed.failure_reason
    assert list(Break.objects.values_list("key", "state", "last_seen_run")) == before
    assert failed.history.first().history_change_reason.startswith("failed: the ERP listing")


def test_run_execute_adapter_error_raised_by_listing_is_the_reason(finance_ops, monkeypatch):
    connection = ConnectionFactory(entity=LegalEntityFactory(code="US01"))

    class Broken:
        def __init__(self, connection):
            pass

        def document_pages(self, *args, **kwargs):
            raise RetryableError("page 3 of 7: connection reset")

    monkeypatch.setattr("reconciliation.services.runs.adapter_for", Broken)

    run = run_execute(run_id=_start(connection.entity, finance_ops).pk, actor=finance_ops)

    assert run.state == RunState.FAILED
    assert run.failure_reason == "the ERP listing failed: page 3 of 7: connection reset"
