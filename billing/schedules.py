"""Celery beat rows of billing (django-celery-beat's DatabaseScheduler reads them).

Created after every `migrate` when missing; a row a person edited stays as they left it.
"""

AWAITING_SWEEP_TASK = "billing.awaiting_sweep"
AWAITING_SWEEP_NAME = "billing: waiting events"
AWAITING_SWEEP_EVERY_SECONDS = 300


def ensure_schedules() -> list[str]:
    """Create billing's missing beat rows; returns the names created. Idempotent."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=AWAITING_SWEEP_EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    _, created = PeriodicTask.objects.get_or_create(
        name=AWAITING_SWEEP_NAME,
        defaults={
            "task": AWAITING_SWEEP_TASK,
            "interval": every,
            "queue": "events",
            "enabled": True,
            "description": "Re-apply events whose awaited record arrived; escalate those "
            "that waited past CONCORD_AWAIT_WINDOW_DAYS.",
        },
    )
    return [AWAITING_SWEEP_NAME] if created else []


def ensure_schedules_after_migrate(sender, **kwargs) -> None:
    ensure_schedules()
