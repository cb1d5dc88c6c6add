"""The periodic tasks exist in beat after migrate and call their services."""

import pytest
from django_celery_beat.models import PeriodicTask

from partners.schedules import SCHEDULES, ensure_schedules
from partners.tasks import attributions_from_subscriptions_task, settlements_recheck_holds_task
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def test_beat_rows_exist_after_migrate_and_are_idempotent():
    ensure_schedules()

    rows = PeriodicTask.objects.filter(name__in=SCHEDULES)
    assert sorted(rows.values_list("task", flat=True)) == [
        "partners.attributions_from_subscriptions",
        "partners.settlements_recheck_holds",
    ]


def test_attribution_task_catches_up_a_lost_signal():
    seller = f.partner()
    sub = f.subscription(buyer=f.customer(), seller=seller)
    sub.partner_attributions.all().delete()  # as if event_applied never reached partners

    assert attributions_from_subscriptions_task.apply().get() == 1
    assert sub.partner_attributions.get().partner == seller
    assert settlements_recheck_holds_task.apply().get() == 0
