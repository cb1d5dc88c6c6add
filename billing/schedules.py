"""Celery beat rows of billing (config.beat: created after every `migrate` when missing; a
row a person edited stays as they left it)."""

from config.beat import ensure_interval_task

AWAITING_SWEEP_TASK = "billing.awaiting_sweep"
AWAITING_SWEEP_NAME = "billing: waiting events"
AWAITING_SWEEP_EVERY_SECONDS = 300


def ensure_schedules() -> list[str]:
    """Create billing's missing beat rows; returns the names created. Idempotent."""
    created = ensure_interval_task(
        name=AWAITING_SWEEP_NAME,
        task=AWAITING_SWEEP_TASK,
        every_seconds=AWAITING_SWEEP_EVERY_SECONDS,
        queue="events",
        description="Re-apply events whose awaited record arrived; escalate those that "
        "waited past CONCORD_AWAIT_WINDOW_DAYS.",
    )
    return [AWAITING_SWEEP_NAME] if created else []


def ensure_schedules_after_migrate(sender, **kwargs) -> None:
    ensure_schedules()
