"""Celery tasks of reconciliation: thin wrappers that load by id and call one service.

Names are stable (they are in queued messages and beat rows); runs go to queue "recon".
"""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)

RUN_EXECUTE = "reconciliation.run_execute"


@shared_task(name=RUN_EXECUTE, queue="recon", acks_late=True, ignore_result=True)
def run_execute_task(*, run_id: int) -> str:
    """Execute reconciliation run `run_id` (a no-op unless it is queued)."""
    from reconciliation.actors import system_actor
    from reconciliation.models import ReconciliationRun
    from reconciliation.services.runs import run_execute

    if not ReconciliationRun.objects.filter(pk=run_id).exists():
        logger.warning("reconciliation run %s is gone; nothing to execute", run_id)
        return "gone"
    return run_execute(run_id=run_id, actor=system_actor()).state


NIGHTLY_RUNS = "reconciliation.nightly_runs"


@shared_task(name=NIGHTLY_RUNS, queue="recon", ignore_result=True)
def nightly_runs_task() -> dict:
    """Start the previous month's documents run of every entity with a connection."""
    from reconciliation.actors import system_actor
    from reconciliation.services.scheduled import runs_start_scheduled

    return runs_start_scheduled(actor=system_actor())
