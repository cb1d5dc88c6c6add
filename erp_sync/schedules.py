"""Celery beat rows of erp_sync (django-celery-beat's DatabaseScheduler reads them).

`ensure_schedules()` runs after every `migrate` (erp_sync's post_migrate hook) and from
`manage.py erp_sync_schedules`. It creates the rows that are missing and leaves existing
ones alone: a schedule a person edited in django-celery-beat (interval changed, disabled)
stays as they left it across migrates. `manage.py erp_sync_schedules --reset` puts the
defaults back on purpose. Idempotent.
"""

SWEEP_TASK = "erp_sync.sweep"
SWEEP_NAME = "erp_sync: sweeper"
SWEEP_EVERY_SECONDS = 30
SWEEP_DESCRIPTION = (
    "Re-dispatch lost events, reclaim expired leases, re-drive due retries and release "
    "cleared holds."
)


def ensure_schedules(*, reset: bool = False) -> list[str]:
    """Create erp_sync's missing beat rows; with `reset`, also put the defaults back on the
    existing ones. Returns the names of the rows created or reset."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(
        every=SWEEP_EVERY_SECONDS, period=IntervalSchedule.SECONDS
    )
    defaults = {
        "task": SWEEP_TASK,
        "interval": every,
        "queue": "erp",
        "enabled": True,
        "description": SWEEP_DESCRIPTION,
    }
    if reset:
        PeriodicTask.objects.update_or_create(name=SWEEP_NAME, defaults=defaults)
        return [SWEEP_NAME]
    _, created = PeriodicTask.objects.get_or_create(name=SWEEP_NAME, defaults=defaults)
    return [SWEEP_NAME] if created else []


def ensure_schedules_after_migrate(sender, **kwargs) -> None:
    ensure_schedules()
