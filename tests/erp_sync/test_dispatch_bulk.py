"""Bulk dispatch of one unit of work's events: queries bounded by the list, not its length."""

import pytest
from django.contrib.auth import get_user_model

from billing.models import FinanceEvent
from billing.signals import event_applied
from erp_sync.actors import SYSTEM_USERNAME, system_actor
from erp_sync.models import SyncJob
from erp_sync.services.dispatch import sync_jobs_create_for_events
from tests.erp_sync.factories import FinanceEventFactory, make_invoice
from tests.erp_sync.job_helpers import (
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def _usage_events(count: int, *, entity: str = "US01") -> list[FinanceEvent]:
    events = FinanceEventFactory.build_batch(
        count, type="usage.recorded", entity=entity, data={"usage_id": "u"}
    )
    return FinanceEvent.objects.bulk_create(events)


def test_dispatch_bulk_thousand_usage_events_bounded_queries_all_dispatched(
    django_assert_max_num_queries,
):
    make_world()
    events = _usage_events(1000)

    with django_assert_max_num_queries(4):
        jobs = sync_jobs_create_for_events(events=events, actor=None)

    assert jobs == []
    assert not FinanceEvent.objects.filter(dispatched_at__isnull=True).exists()
    assert not SyncJob.objects.exists()


def test_dispatch_bulk_documents_without_connection_marked_dispatched_without_jobs(
    django_assert_max_num_queries,
):
    make_world()  # US01 has a connection; DE01 has none
    events = FinanceEvent.objects.bulk_create(
        FinanceEventFactory.build_batch(50, type="invoice.issued", entity="DE01", data={})
    )

    with django_assert_max_num_queries(4):
        sync_jobs_create_for_events(events=events, actor=None)

    assert not FinanceEvent.objects.filter(dispatched_at__isnull=True).exists()
    assert not SyncJob.objects.exists()


def test_event_applied_list_creates_jobs_for_documents_only(django_capture_on_commit_callbacks):
    world = make_world()
    invoice = make_invoice()
    usage = _usage_events(20)

    with django_capture_on_commit_callbacks(execute=True):
        event_applied.send(sender=FinanceEvent, events=[*usage, invoice.event])

    job = SyncJob.objects.get()
    assert (job.event_id, job.connection_id) == (invoice.event.pk, world["connection"].pk)
    assert job.history.earliest("history_date").history_user.username == SYSTEM_USERNAME
    assert not FinanceEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_system_actor_user_deleted_is_created_again():
    first = system_actor()
    assert system_actor().pk == first.pk
    get_user_model().objects.filter(pk=first.pk).delete()

    again = system_actor()

    assert again.username == SYSTEM_USERNAME
    assert again.pk != first.pk
    assert get_user_model().objects.filter(pk=again.pk).exists()


def test_event_applied_document_without_connection_one_statement_dispatched(
    django_assert_num_queries, django_capture_on_commit_callbacks
):
    make_world()  # DE01 has no connection
    (event,) = FinanceEvent.objects.bulk_create(
        [FinanceEventFactory.build(type="invoice.issued", entity="DE01", data={})]
    )

    # The system user is not read and no transaction opened: one UPDATE marks it.
    with django_assert_num_queries(1):
        event_applied.send(sender=FinanceEvent, events=[event])

    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert not SyncJob.objects.exists()


def test_event_applied_mixed_list_connected_document_gets_job_rest_dispatched():
    world = make_world()
    invoice = make_invoice()
    unconnected = FinanceEvent.objects.bulk_create(
        FinanceEventFactory.build_batch(3, type="invoice.issued", entity="DE01", data={})
    )

    event_applied.send(sender=FinanceEvent, events=[*unconnected, invoice.event])

    job = SyncJob.objects.get()
    assert (job.event_id, job.connection_id) == (invoice.event.pk, world["connection"].pk)
    assert not FinanceEvent.objects.filter(dispatched_at__isnull=True).exists()
