"""Celery beat rows of reconciliation (django-celery-beat's DatabaseScheduler reads them).

`ensure_schedules()` runs after every `migrate` (reconciliation's post_migrate hook). It
creates the nightly row when it is missing and leaves an existing one alone, so a person's
change in the admin (another hour, disabled) survives upgrades. Idempotent.
"""

NIGHTLY_TASK = "reconciliation.nightly_runs"
NIGHTLY_NAME = "reconciliation: nightly runs (previous month)"
# 02:30 UTC: after the day's postings, before the working day.
NIGHTLY_CRONTAB = {"minute": "30", "hour": "2", "day_of_week": "*", "day_of_month": "*"}


def ensure_schedules() -> bool:
    """Create the nightly row if missing; True when it was created."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if PeriodicTask.objects.filter(name=NIGHTLY_NAME).exists():
        return False
    crontab, _ = CrontabSchedule.objects.get_or_create(
        **NIGHTLY_CRONTAB, month_of_year="*", timezone="UTC"
    )
    _, created = PeriodicTask.objects.get_or_create(
        name=NIGHTLY_NAME,
        defaults={
            "task": NIGHTLY_TASK,
            "crontab": crontab,
            "queue": "recon",
            "enabled": True,
            "description": "Start a documents reconciliation run of the previous month for "
            "every legal entity with an active ERP connection.",
        },
    )
    return created


def ensure_schedules_after_migrate(sender, **kwargs) -> None:
    ensure_schedules()
