"""A delivery of an already stored event is counted per entity and day (one upsert on the
duplicate path only), and the count is the "duplicate events rejected" KPI."""

import copy
import datetime as dt

import pytest
from django.utils import timezone

from billing.models import DuplicateDeliveryCount
from billing.services.batch import events_ingest_batch
from billing.services.events import event_ingest
from reconciliation.kpis import kpis
from reconciliation.periods import Period
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def customer_event(customer_id="cus_dup", name="Acme", entity="US01") -> dict:
    return {
        "specversion": "1.0",
        "id": f"evt-{customer_id}",
        "source": "billing-platform",
        "type": "customer.upserted",
        "time": "2026-05-04T10:00:00Z",
        "entity": entity,
        "data": {"customer_id": customer_id, "name": name, "country": "US", "currency": "USD"},
    }


def counts() -> dict:
    return {
        (row.entity, row.day): (row.duplicates, row.conflicts)
        for row in DuplicateDeliveryCount.objects.all()
    }


def test_a_duplicate_delivery_increments_todays_count_and_a_new_event_does_not():
    f.entity()
    body = customer_event()
    assert event_ingest(body=copy.deepcopy(body), actor=None).status == 202
    assert counts() == {}

    assert event_ingest(body=copy.deepcopy(body), actor=None).status == 200
    assert event_ingest(body=copy.deepcopy(body), actor=None).status == 200
    other = customer_event(name="Acme renamed")
    assert event_ingest(body=other, actor=None).status == 409

    assert counts() == {("US01", timezone.now().date()): (2, 1)}


def test_a_batch_counts_its_duplicates_in_one_row_per_entity():
    f.entity()
    f.entity("DE01", "EUR")
    first = [customer_event("cus_a"), customer_event("cus_b", entity="DE01")]
    events_ingest_batch(bodies=copy.deepcopy(first), actor=None)
    assert counts() == {}

    again = [*copy.deepcopy(first), customer_event("cus_a"), customer_event("cus_c")]
    results = events_ingest_batch(bodies=again, actor=None)

    assert [r["status"] for r in results] == [200, 200, 200, 202]
    today = timezone.now().date()
    assert counts() == {("US01", today): (2, 0), ("DE01", today): (1, 0)}


def test_kpi_reports_the_rejected_deliveries_of_the_period():
    entity = f.entity()
    body = customer_event()
    for _ in range(3):
        event_ingest(body=copy.deepcopy(body), actor=None)
    today = timezone.now().date()
    before = today.replace(day=1) - dt.timedelta(days=1)
    DuplicateDeliveryCount.objects.create(entity="US01", day=before, duplicates=50)

    figures = kpis(entity=entity, period=Period.month(today.year, today.month))

    rejected = figures["duplicate_events_rejected"]
    assert (rejected["rejected"], rejected["duplicate_deliveries"]) == (2, 2)
    assert rejected["deliveries_recorded"] is True
