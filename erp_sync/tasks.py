"""Celery tasks of erp_sync: thin wrappers that load by id and call one service.

Names are stable (they are in queued messages and beat rows); services enqueue by name
(`erp_sync.services.common.POST_TASK`), so tasks import services and never the reverse.
erp_sync's AppConfig.ready imports this module so the tasks are registered in every
process (eager mode runs them inline by name). Posting runs on queue "erp"
with acks_late, so a worker killed mid-task gets its message redelivered; the job lease and
the sweeper cover the rest.
"""

import logging

from celery import shared_task
from celery.signals import task_postrun, worker_init

from erp_sync.actors import mark_worker_process, system_actor
from erp_sync.services.bulk import bulk_action_run
from erp_sync.services.posting import job_post
from erp_sync.services.sweeper import sync_sweep

logger = logging.getLogger(__name__)
worker_init.connect(mark_worker_process, dispatch_uid="erp_sync.actor_cache")

# Tasks a worker thread runs on one database connection before Celery's Django fix-up closes
# it (used when settings.CELERY_DB_REUSE_MAX is not set).
DB_REUSE_MAX = 1000


def keep_db_connections(sender=None, **kwargs) -> None:
    """Let worker threads reuse their database connection between tasks.

    Without CELERY_DB_REUSE_MAX, Celery's Django fix-up closes every connection before and
    after each task, so each post opened a new PostgreSQL session (a backend fork, cold
    catalog caches): most of a job's database cost. Connections are still recycled every
    DB_REUSE_MAX tasks, and `close_stale_db_connections` applies Django's own rule
    (CONN_MAX_AGE, unusable after an error) after every task, as a request does.
    """
    app = getattr(sender, "app", None)
    for fixup in getattr(app, "_fixups", ()):
        worker_fixup = getattr(fixup, "worker_fixup", None)
        if worker_fixup is not None and not worker_fixup.db_reuse_max:
            worker_fixup.db_reuse_max = DB_REUSE_MAX


def close_stale_db_connections(task=None, **kwargs) -> None:
    """After a task in a worker: drop a connection past CONN_MAX_AGE or broken by an error.

    Not for eager tasks: they run inside the caller's transaction and connection.
    """
    if task is None or getattr(task.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()


worker_init.connect(keep_db_connections, dispatch_uid="erp_sync.keep_db_connections")
task_postrun.connect(close_stale_db_connections, dispatch_uid="erp_sync.close_stale_db")


@shared_task(name="erp_sync.post_job", queue="erp", acks_late=True, ignore_result=True)
def post_job(*, job_id: int) -> str:
    """Post sync job `job_id` once (a no-op unless it is pending or due to retry)."""
    outcome = job_post(job_id=job_id, actor=system_actor())
    logger.debug("post_job", extra={"job": job_id, "outcome": outcome})
    return outcome


@shared_task(name="erp_sync.sweep", queue="erp", ignore_result=True)
def sweep() -> dict:
    """One sweeper pass (lost dispatches, expired leases, due retries, cleared holds)."""
    return sync_sweep(actor=system_actor())


@shared_task(name="erp_sync.bulk_action_run", acks_late=True, ignore_result=True)
def run_bulk_action(*, action_id: int) -> None:
    """Work through a console bulk replay / cancel (resumes from its progress if redelivered)."""
    bulk_action_run(action_id=action_id)
