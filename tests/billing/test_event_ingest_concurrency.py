"""On PostgreSQL the (source, id) unique index decides races: stored once, others 200/409."""

import threading
from unittest import mock

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


def test_same_payment_fast_and_slow_at_once_deadlock_answers_202_and_200(world):
    """The fast path locks the invoices, then inserts the event key; the slow path the other
    way round. Forced into that interleaving, PostgreSQL aborts one copy (deadlock_detected);
    event_ingest runs that copy once more, which finds the other's event: 202 and 200, never
    an error, one payment."""
    from billing.models import Payment
    from billing.services import events, fast_one

    body = event_body("payment.settled")
    fast_locked, slow_claimed = threading.Event(), threading.Event()
    slow = threading.local()
    original_fast, original_claim = fast_one.event_ingest_fast, events._claim
    original_targets = fast_one.allocation_targets

    def fast(**kwargs):
        return None if getattr(slow, "on", False) else original_fast(**kwargs)

    def targets(*args, **kwargs):
        locked = original_targets(*args, **kwargs)
        fast_locked.set()
        slow_claimed.wait(10)
        return locked

    def claim(**kwargs):
        fast_locked.wait(10)
        claimed = original_claim(**kwargs)
        slow_claimed.set()
        return claimed

    results: dict = {}

    def run(name: str) -> None:
        slow.on = name == "slow"
        try:
            results[name] = event_ingest(body=body, actor=None).status
        except Exception as error:  # surfaced by the assertion below
            results[name] = error
        finally:
            connection.close()

    with (
        mock.patch.object(fast_one, "event_ingest_fast", fast),
        mock.patch.object(fast_one, "allocation_targets", targets),
        mock.patch.object(events, "_claim", claim),
    ):
        threads = [threading.Thread(target=run, args=(name,)) for name in ("fast", "slow")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    assert sorted(map(str, results.values())) == ["200", "202"], results
    assert FinanceEvent.objects.filter(event_id=body["id"]).count() == 1
    assert Payment.objects.filter(payment_id=body["data"]["payment_id"]).count() == 1
