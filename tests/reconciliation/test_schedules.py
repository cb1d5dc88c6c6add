"""The nightly beat row (created if missing, a person's edit left alone) and the task it
runs: one documents run of the previous month per entity with an active connection."""

import datetime as dt

import pytest
from django_celery_beat.models import PeriodicTask

from reconciliation import schedules
from reconciliation.models import ReconciliationRun
from reconciliation.services.scheduled import runs_start_scheduled
from reconciliation.tasks import NIGHTLY_RUNS, nightly_runs_task
from tests.reconciliation.factories import ConnectionFactory, LegalEntityFactory

pytestmark = pytest.mark.django_db


def test_ensure_schedules_after_migrate_row_exists_for_the_nightly_task():
    row = PeriodicTask.objects.get(name=schedules.NIGHTLY_NAME)

    assert (row.task, row.queue, row.enabled) == (NIGHTLY_RUNS, "recon", True)
    assert (row.crontab.hour, row.crontab.minute) == ("2", "30")
    assert schedules.NIGHTLY_TASK == NIGHTLY_RUNS


def test_ensure_schedules_missing_row_is_created_again():
    PeriodicTask.objects.filter(name=schedules.NIGHTLY_NAME).delete()

    created = schedules.ensure_schedules()

    assert created is True
    assert PeriodicTask.objects.filter(name=schedules.NIGHTLY_NAME).count() == 1


def test_ensure_schedules_edited_row_is_left_alone():
    PeriodicTask.objects.filter(name=schedules.NIGHTLY_NAME).update(enabled=False)

    created = schedules.ensure_schedules()

    assert created is False
    assert PeriodicTask.objects.get(name=schedules.NIGHTLY_NAME).enabled is False


def test_runs_start_scheduled_starts_previous_month_per_connected_entity(make_user):
    ConnectionFactory(entity=LegalEntityFactory(code="US01"))
    ConnectionFactory(entity=LegalEntityFactory(code="DE01"))
    LegalEntityFactory(code="FR01")  # no connection: no run
    ConnectionFactory(entity=LegalEntityFactory(code="UK01"), is_active=False)

    outcome = runs_start_scheduled(actor=make_user("ops"), today=dt.date(2026, 6, 3))

    runs = ReconciliationRun.objects.order_by("entity__code", "scope")
    assert sorted(outcome) == [
        "DE01", "DE01/partners", "DE01/usage", "US01", "US01/partners", "US01/usage",
    ]  # fmt: skip
    assert [(r.entity.code, r.period_start, r.period_end, r.scope) for r in runs] == [
        (code, dt.date(2026, 5, 1), dt.date(2026, 5, 31), scope)
        for code in ("DE01", "US01")
        for scope in ("documents", "partners", "usage")
    ]


def test_runs_start_scheduled_skips_an_active_run_and_goes_on(make_user):
    ConnectionFactory(entity=LegalEntityFactory(code="DE01"))
    ConnectionFactory(entity=LegalEntityFactory(code="US01"))
    actor = make_user("ops")
    runs_start_scheduled(actor=actor, today=dt.date(2026, 6, 3))

    outcome = runs_start_scheduled(actor=actor, today=dt.date(2026, 6, 3))

    assert set(outcome.values()) == {"skipped: run_already_active"}
    assert len(outcome) == 6
    assert ReconciliationRun.objects.count() == 6


def test_nightly_runs_task_starts_runs_as_the_system_actor():
    ConnectionFactory(entity=LegalEntityFactory(code="US01"))

    outcome = nightly_runs_task()

    run = ReconciliationRun.objects.get(scope="documents")
    assert outcome["US01"] == f"run #{run.pk}"
    assert sorted(outcome) == ["US01", "US01/partners", "US01/usage"]
    assert run.history.first().history_user.username == "system:reconciliation"
