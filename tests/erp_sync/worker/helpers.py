"""Shared steps of the real-worker drills."""

from __future__ import annotations

from erp_sync.models import SandboxDocument, SyncJob
from erp_sync.services.dispatch import sync_jobs_create_for_event
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import make_world


def world(**connection_fields):
    """A sandbox world whose jobs go to the real broker (not eager)."""
    return make_world(**connection_fields)


def dispatch_invoices(count: int) -> list[SyncJob]:
    """Create `count` invoices and dispatch them (post tasks go to Redis on commit)."""
    jobs = []
    for _ in range(count):
        jobs += sync_jobs_create_for_event(event=make_invoice().event, actor=None)
    return jobs


def states(jobs) -> list[str]:
    return list(SyncJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state", flat=True))


def all_in(jobs, state: str) -> bool:
    return set(states(jobs)) == {state}


def duplicates(connection) -> int:
    """Sandbox documents beyond the first per external id (must be 0)."""
    total = SandboxDocument.objects.filter(connection=connection).count()
    distinct = (
        SandboxDocument.objects.filter(connection=connection)
        .values("external_id")
        .distinct()
        .count()
    )
    return total - distinct
