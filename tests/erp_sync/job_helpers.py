"""Helpers of the sync-job engine tests: a sandbox world, running queued tasks, counting calls."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from erp_sync import semaphore
from erp_sync.actors import system_actor
from erp_sync.adapters.sandbox import SandboxAdapter
from erp_sync.models import SandboxDocument, SyncJob
from erp_sync.services import circuit
from erp_sync.services.dispatch import sync_jobs_create_for_event
from erp_sync.services.sweeper import sync_sweep
from tests.erp_sync.factories import make_invoice


@pytest.fixture
def eager_celery():
    """Run tasks inline even when REDIS_URL is set (these tests drive the engine in-process;
    tests/erp_sync/worker/ runs real workers). Restored after the test."""
    from config.celery import app

    was = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = was


def dispatch(event, *, actor=None, capture=None) -> list[SyncJob]:
    """Dispatch `event` and run every task it queues (eager Celery, on_commit executed)."""
    actor = actor or system_actor()
    if capture is None:
        return sync_jobs_create_for_event(event=event, actor=actor)
    with capture(execute=True):
        return sync_jobs_create_for_event(event=event, actor=actor)


def sweep(capture, *, actor=None) -> dict:
    with capture(execute=True):
        return sync_sweep(actor=actor or system_actor())


def make_due(job: SyncJob) -> None:
    """Pretend the job's retry time has come."""
    SyncJob.objects.filter(pk=job.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(seconds=5)
    )


def documents_for(job: SyncJob) -> int:
    return SandboxDocument.objects.filter(
        connection=job.connection, external_id=job.external_id
    ).count()


class CallCounter:
    """Counts SandboxAdapter.post calls; optionally fails them with given errors in order."""

    def __init__(self, monkeypatch, failures=()):
        self.calls = 0
        self.failures = list(failures)
        original = SandboxAdapter.post
        counter = self

        def post(adapter, document, **kwargs):
            counter.calls += 1
            if counter.failures:
                error = counter.failures.pop(0)
                if error is not None:
                    raise error
            return original(adapter, document, **kwargs)

        monkeypatch.setattr(SandboxAdapter, "post", post)


def reset_semaphore(connection) -> None:
    semaphore.reset(connection)


def make_world(**connection_fields):
    """Entity US01, a sandbox connection with the default chart, one rule per document type."""
    from tests.erp_sync.factories import ConnectionFactory, LegalEntityFactory, default_rules

    entity = LegalEntityFactory(code="US01")
    connection = ConnectionFactory(entity=entity, **connection_fields)
    semaphore.reset(connection)
    circuit.probe_release(connection)
    return {"entity": entity, "connection": connection, "rules": default_rules("US01")}


def fixed_jitter(monkeypatch, value: float = 0.5) -> None:
    """Make the backoff's full jitter deterministic (random() returns `value`)."""
    from erp_sync.services import common

    monkeypatch.setattr(common.random, "random", lambda: value)


SLOW_RETRY = {"sync": {"retry_base_seconds": 60}}


def pending_jobs(count: int) -> list[SyncJob]:
    """`count` invoice jobs, pending, their post messages not sent."""
    from erp_sync.services import dispatch as dispatch_module

    original = dispatch_module.enqueue_post
    dispatch_module.enqueue_post = lambda ids, **kwargs: None
    try:
        return [
            job
            for _ in range(count)
            for job in dispatch_module.sync_jobs_create_for_event(
                event=make_invoice().event, actor=None
            )
        ]
    finally:
        dispatch_module.enqueue_post = original
