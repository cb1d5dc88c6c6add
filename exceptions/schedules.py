"""Celery beat rows of exceptions (config.beat: created after every `migrate` when missing;
a row a person edited stays as they left it)."""

from config.beat import ensure_interval_task

ESCALATE_TASK = "exceptions.escalate_overdue"
ESCALATE_NAME = "exceptions: escalate overdue cases"
ESCALATE_EVERY_SECONDS = 300


def ensure_schedules() -> list[str]:
    """Create the missing beat row; returns the names created. Idempotent."""
    created = ensure_interval_task(
        name=ESCALATE_NAME,
        task=ESCALATE_TASK,
        every_seconds=ESCALATE_EVERY_SECONDS,
        queue="events",
        description="Escalate open cases past their SLA: mark them and e-mail the owner group.",
    )
    return [ESCALATE_NAME] if created else []


def ensure_schedules_after_migrate(sender, **kwargs) -> None:
    ensure_schedules()
