"""ensure_schedules: creates missing beat rows, never overwrites what a person edited."""

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from erp_sync.schedules import SWEEP_NAME, SWEEP_TASK, ensure_schedules

pytestmark = pytest.mark.django_db


def _sweeper() -> PeriodicTask:
    return PeriodicTask.objects.select_related("interval").get(name=SWEEP_NAME)


def test_ensure_schedules_missing_row_created_every_30_seconds_on_erp_queue():
    PeriodicTask.objects.filter(name=SWEEP_NAME).delete()

    created = ensure_schedules()

    task = _sweeper()
    assert created == [SWEEP_NAME]
    assert (task.task, task.queue, task.enabled) == (SWEEP_TASK, "erp", True)
    assert (task.interval.every, task.interval.period) == (30, IntervalSchedule.SECONDS)


def test_ensure_schedules_row_edited_by_a_person_left_alone():
    ensure_schedules()
    task = _sweeper()
    task.interval = IntervalSchedule.objects.create(every=5, period=IntervalSchedule.MINUTES)
    task.enabled = False
    task.save()

    assert ensure_schedules() == []
    call_command("migrate", verbosity=0)  # the post_migrate hook runs ensure_schedules too

    task = _sweeper()
    assert (task.interval.every, task.interval.period) == (5, IntervalSchedule.MINUTES)
    assert task.enabled is False
    assert PeriodicTask.objects.filter(task=SWEEP_TASK).count() == 1


def test_schedules_command_reset_restores_defaults():
    ensure_schedules()
    task = _sweeper()
    task.enabled = False
    task.interval = IntervalSchedule.objects.create(every=7, period=IntervalSchedule.SECONDS)
    task.save()

    call_command("erp_sync_schedules", "--reset", verbosity=0)

    task = _sweeper()
    assert task.enabled is True
    assert (task.interval.every, task.interval.period) == (30, IntervalSchedule.SECONDS)
