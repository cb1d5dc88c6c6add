"""Concurrent batches carrying copies of each other's events never fail (PostgreSQL).

Each batch holds its own events and copies of another batch's, in the opposite order, with
per-item events (subscription.created, payment.settled) between the usage runs so that the
fast path writes in several statements: the inserts take index locks in different orders,
which PostgreSQL can answer with a deadlock; the batch is then redone, never answered 500.
"""

import threading
from collections import Counter

import pytest
from django.db import connection

from billing.models import FinanceEvent, UsageRecord
from billing.services import events_ingest_batch
from tests.billing.factories import event_body

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROUNDS = 12
THREADS = 4


def _own_events() -> list[dict]:
    bodies = []
    for run in range(4):
        bodies += [event_body("usage.recorded") for _ in range(15)]
        bodies.append(
            event_body("subscription.created") if run % 2 else event_body("payment.settled")
        )
    return bodies


def _race(batches: list[list[dict]]) -> list:
    barrier = threading.Barrier(len(batches))
    outcomes: list = [None] * len(batches)

    def run(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = events_ingest_batch(bodies=batches[index], actor=None)
        except Exception as error:  # surfaced by the assertions below
            outcomes[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(batches))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def test_batch_overlapping_concurrent_batches_store_each_event_once_without_error(world):
    for _ in range(ROUNDS):
        own = [_own_events() for _ in range(THREADS)]
        # Batch i: its own events, then the next batch's events in reverse order.
        batches = [own[i] + own[(i + 1) % THREADS][::-1] for i in range(THREADS)]
        outcomes = _race(batches)
        assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
        accepted: Counter = Counter()
        for batch, results in zip(batches, outcomes, strict=True):
            assert {r["status"] for r in results} <= {200, 202}, results
            for body, result in zip(batch, results, strict=True):
                if result["status"] == 202:
                    accepted[body["id"]] += 1
        sent = {body["id"] for bodies in own for body in bodies}
        assert set(accepted) == sent
        assert set(accepted.values()) == {1}
        stored = Counter(
            FinanceEvent.objects.filter(event_id__in=sent).values_list("event_id", flat=True)
        )
        assert set(stored) == sent and set(stored.values()) == {1}
        usage_ids = [
            b["data"]["usage_id"] for bodies in own for b in bodies if b["type"] == "usage.recorded"
        ]
        assert UsageRecord.objects.filter(usage_id__in=usage_ids).count() == len(usage_ids)
