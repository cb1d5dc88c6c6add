"""Celery tasks of exceptions: thin wrappers that call services."""

from celery import shared_task

from exceptions.escalation import cases_escalate_overdue
from exceptions.summaries import summaries_compact


@shared_task(name="exceptions.escalate_overdue", queue="events", ignore_result=True)
def escalate_overdue() -> int:
    """Escalate open/acknowledged cases past their SLA (marked, owner group e-mailed)."""
    return cases_escalate_overdue(actor=None)


@shared_task(name="exceptions.compact_summaries", queue="events", ignore_result=True)
def compact_summaries() -> int:
    """Fold the kept counts' and totals' change rows into one row per key (sums unchanged)."""
    return summaries_compact()
