"""On PostgreSQL the (source, id) unique index decides races: stored once, others 200/409."""

import threading

import pytest
from django.db import connection

from billing.models import FinanceEvent, UsageRecord
from billing.services import event_ingest, events_ingest_batch
from tests.billing.factories import event_body

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def race(bodies: list, call) -> list:
    barrier = threading.Barrier(len(bodies))
    results: list = [None] * len(bodies)

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = call(bodies[index])
        except Exception as error:  # surfaced by the assertions below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_eight_threads_same_event_store_it_once(world):
    body = event_body("usage.recorded")
    results = race([body] * 8, lambda b: event_ingest(body=b, actor=None).status)
    assert sorted(results) == [200] * 7 + [202]
    assert FinanceEvent.objects.filter(event_id=body["id"]).count() == 1
    assert UsageRecord.objects.filter(usage_id=body["data"]["usage_id"]).count() == 1


def test_two_different_bodies_raced_give_one_202_and_one_409(world):
    body = event_body("invoice.issued")
    other = {**body, "data": {**body["data"], "due_date": "2026-06-30"}}
    results = race([body, other], lambda b: event_ingest(body=b, actor=None).status)
    assert sorted(results) == [202, 409]
    assert FinanceEvent.objects.filter(event_id=body["id"]).count() == 1


def test_identical_batches_raced_store_each_event_once(world):
    bodies = [event_body("usage.recorded") for _ in range(50)]
    results = race(
        [bodies] * 4,
        lambda b: [r["status"] for r in events_ingest_batch(bodies=b, actor=None)],
    )
    assert all(isinstance(r, list) for r in results), results
    for index in range(50):
        assert sorted(r[index] for r in results) == [200, 200, 200, 202]
    assert (
        UsageRecord.objects.filter(usage_id__in=[b["data"]["usage_id"] for b in bodies]).count()
        == 50
    )
