"""Dispatch: one sync job per (event, active connection), idempotent, queued on commit."""

import pytest

from billing.models import FinanceEvent
from billing.signals import event_applied
from erp_sync.choices import AdapterKind, SyncJobState
from erp_sync.models import SyncJob
from tests.erp_sync.factories import ConnectionFactory, FinanceEventFactory, make_invoice
from tests.erp_sync.job_helpers import (
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def _second_connection(entity):
    return ConnectionFactory(
        entity=entity,
        adapter_kind=AdapterKind.TRYTON,
        settings={"url": "http://127.0.0.1:1", "database": "x", "login": "admin"},
    )


def test_dispatch_two_active_connections_creates_one_job_each(django_capture_on_commit_callbacks):
    world = make_world()
    other = _second_connection(world["entity"])
    ConnectionFactory(entity=world["entity"], adapter_kind=AdapterKind.SANDBOX, is_active=False)
    invoice = make_invoice()
    from erp_sync.services.dispatch import sync_jobs_create_for_event

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        jobs = sync_jobs_create_for_event(event=invoice.event, actor=None)

    assert {job.connection_id for job in jobs} == {world["connection"].pk, other.pk}
    assert all(job.state == SyncJobState.PENDING for job in jobs)
    assert all(job.document["external_id"] == job.external_id for job in jobs)
    assert all(job.mapping_rules.exists() for job in jobs)
    assert len(callbacks) == 2  # one post task per job, sent on commit
    invoice.event.refresh_from_db()
    assert invoice.event.dispatched_at is not None


def test_dispatch_twice_still_one_job_per_connection(django_capture_on_commit_callbacks):
    make_world()
    invoice = make_invoice()
    from erp_sync.services.dispatch import sync_jobs_create_for_event

    with django_capture_on_commit_callbacks(execute=False):
        first = sync_jobs_create_for_event(event=invoice.event, actor=None)
    with django_capture_on_commit_callbacks(execute=False) as second_callbacks:
        second = sync_jobs_create_for_event(event=invoice.event, actor=None)

    assert [j.pk for j in first] == [j.pk for j in second]
    assert SyncJob.objects.filter(event=invoice.event).count() == 1
    assert second_callbacks == []  # nothing new to post


def test_dispatch_event_without_document_creates_no_job_and_marks_dispatched():
    make_world()
    event = FinanceEventFactory(type="customer.upserted", data={"customer_id": "c1"})
    from erp_sync.services.dispatch import sync_jobs_create_for_event

    assert sync_jobs_create_for_event(event=event, actor=None) == []
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert not SyncJob.objects.exists()


def test_event_applied_signal_dispatches_and_posts(django_capture_on_commit_callbacks):
    make_world()
    invoice, other = make_invoice(), make_invoice()
    with django_capture_on_commit_callbacks(execute=True):
        event_applied.send(sender=FinanceEvent, events=[invoice.event, other.event])

    job = SyncJob.objects.get(event=invoice.event)
    assert job.state == SyncJobState.POSTED
    assert SyncJob.objects.get(event=other.event).state == SyncJobState.POSTED
    first_history = job.history.earliest("history_date")
    assert first_history.history_user.username == "system:erp-sync"
    assert first_history.history_change_reason.startswith("created for event")
