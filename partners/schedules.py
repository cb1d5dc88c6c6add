"""Celery beat rows of partners (django-celery-beat's DatabaseScheduler reads them).

`ensure_schedules()` runs after every `migrate` (partners' post_migrate hook), creating or
correcting the rows. Idempotent. Both tasks are re-checks that make lost signals and closed
cases take effect: holds released when their cases close, attributions for subscriptions
whose `event_applied` signal was lost.
"""

SCHEDULES = {
    "partners: settlement holds": (
        "partners.settlements_recheck_holds",
        300,
        "Hold settlements touched by blocking cases; release those whose cases closed.",
    ),
    "partners: attributions": (
        "partners.attributions_from_subscriptions",
        900,
        "Attribute partnered subscriptions whose event_applied signal was lost.",
    ),
}


def ensure_schedules() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, (task, seconds, description) in SCHEDULES.items():
        every, _ = IntervalSchedule.objects.get_or_create(
            every=seconds, period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": every,
                "enabled": True,
                "description": description,
            },
        )


def ensure_schedules_after_migrate(sender, **kwargs) -> None:
    ensure_schedules()
