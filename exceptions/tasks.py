"""Celery tasks of exceptions: thin wrappers that call services."""

from celery import shared_task

from exceptions.escalation import cases_escalate_overdue


@shared_task(name="exceptions.escalate_overdue", queue="events", ignore_result=True)
def escalate_overdue() -> int:
    """Escalate open/acknowledged cases past their SLA (marked, owner group e-mailed)."""
    return cases_escalate_overdue(actor=None)
