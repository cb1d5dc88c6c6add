"""Celery beat rows of exceptions (django-celery-beat's DatabaseScheduler reads them).

Created after every `migrate` when missing; a row a person edited stays as they left it.
"""

ESCALATE_TASK = "exceptions.escalate_overdue"
ESCALATE_NAME = "exceptions: escalate overdue cases"
ESCALATE_EVERY_SECONDS = 300


def ensure_schedules() -> list[str]:
    """Create the missing beat row; returns the names created. Idempotent."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=ESCALATE_EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    _, created = PeriodicTask.objects.get_or_create(
        name=ESCALATE_NAME,
        defaults={
            "task": ESCALATE_TASK,
            "interval": every,
            "queue": "events",
            "enabled": True,
            "description": "Escalate open cases past their SLA: mark them and e-mail the "
            "owner group.",
        },
    )
    return [ESCALATE_NAME] if created else []


def ensure_schedules_after_migrate(sender, **kwargs) -> None:
    ensure_schedules()
