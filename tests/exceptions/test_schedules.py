"""exceptions' beat rows: escalation and the kept counts' fold, created when missing only."""

import pytest
from django_celery_beat.models import PeriodicTask

from exceptions.schedules import (
    COMPACT_NAME,
    COMPACT_TASK,
    ESCALATE_NAME,
    ESCALATE_TASK,
    ensure_schedules,
)

pytestmark = pytest.mark.django_db


def test_ensure_schedules_creates_both_missing_rows_then_nothing():
    PeriodicTask.objects.filter(name__in=[ESCALATE_NAME, COMPACT_NAME]).delete()

    assert ensure_schedules() == [ESCALATE_NAME, COMPACT_NAME]
    assert ensure_schedules() == []

    rows = PeriodicTask.objects.select_related("interval").filter(queue="events")
    got = {row.name: (row.task, row.interval.every) for row in rows}
    assert got[ESCALATE_NAME] == (ESCALATE_TASK, 300)
    assert got[COMPACT_NAME] == (COMPACT_TASK, 60)
