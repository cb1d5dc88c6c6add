"""Celery beat rows of exceptions (config.beat: created after every `migrate` when missing;
a row a person edited stays as they left it)."""

from config.beat import ensure_interval_task

ESCALATE_TASK = "exceptions.escalate_overdue"
ESCALATE_NAME = "exceptions: escalate overdue cases"
ESCALATE_EVERY_SECONDS = 300
COMPACT_TASK = "exceptions.compact_summaries"
COMPACT_NAME = "exceptions: fold the kept case counts and totals"
# Each case or item write adds a row per key it changes; folded this often, the queue's
# counts and a case's totals read a few hundred rows at most.
COMPACT_EVERY_SECONDS = 60


SCHEDULES = (
    (ESCALATE_NAME, ESCALATE_TASK, ESCALATE_EVERY_SECONDS,
     "Escalate open cases past their SLA: mark them and e-mail the owner group."),
    (COMPACT_NAME, COMPACT_TASK, COMPACT_EVERY_SECONDS,
     "Fold the change rows of the kept case counts and item totals."),
)  # fmt: skip


def ensure_schedules() -> list[str]:
    """Create the missing beat rows; returns the names created. Idempotent."""
    return [
        name
        for name, task, every, description in SCHEDULES
        if ensure_interval_task(
            name=name, task=task, every_seconds=every, queue="events", description=description
        )
    ]


def ensure_schedules_after_migrate(sender, **kwargs) -> None:
    ensure_schedules()
