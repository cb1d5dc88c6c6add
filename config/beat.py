"""Celery beat rows the apps create after `migrate` (django-celery-beat's DatabaseScheduler
reads them). A missing row is created; a row a person edited stays as they left it."""


def ensure_interval_task(
    *, name: str, task: str, every_seconds: int, queue: str, description: str
) -> bool:
    """Create the beat row `name` running `task` every `every_seconds` on `queue`, unless it
    exists; True when it was created. Idempotent."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=every_seconds, period=IntervalSchedule.SECONDS
    )
    _, created = PeriodicTask.objects.get_or_create(
        name=name,
        defaults={
            "task": task,
            "interval": every,
            "queue": queue,
            "enabled": True,
            "description": description,
        },
    )
    return created
