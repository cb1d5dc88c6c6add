"""Celery beat rows of erp_sync (django-celery-beat's DatabaseScheduler reads them).

`ensure_schedules()` runs after every `migrate` (erp_sync's post_migrate hook) and from
`manage.py erp_sync_schedules`; it creates or corrects the rows, so a fresh database and an
old one end up with the same schedule. Idempotent.
"""

SWEEP_TASK = "erp_sync.sweep"
SWEEP_NAME = "erp_sync: sweeper"
SWEEP_EVERY_SECONDS = 30


def ensure_schedules() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=SWEEP_EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.update_or_create(
        name=SWEEP_NAME,
        defaults={
            "task": SWEEP_TASK,
            "interval": every,
            "queue": "erp",
            "enabled": True,
            "description": "Re-dispatch lost events, reclaim expired leases, re-drive due "
            "retries and release cleared holds.",
        },
    )


def ensure_schedules_after_migrate(sender, **kwargs) -> None:
    ensure_schedules()
