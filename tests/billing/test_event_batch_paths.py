"""The batch fast path gives the same answers and records as ingesting item by item."""

import pytest
from django.db import transaction

from billing.models import FinanceEvent, Subscription, UsageRecord
from billing.schema import EventSchemaError
from billing.services import event_ingest, events_ingest_batch
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db


def mixed_batch() -> list[dict]:
    usage = event_body("usage.recorded", usage_id="u1")
    malformed = event_body("usage.recorded", usage_id="u_bad")
    malformed["data"]["quantity"] = 5
    created = event_body("subscription.created", subscription_id="s_new", customer_id="cus_x")
    return [
        usage,
        event_body("usage.recorded", usage_id="u2", quantity="3", unit_price="1.005"),
        usage,  # the same event again → 200
        {**usage, "data": {**usage["data"], "meter": "other"}},  # same id, new body → 409
        event_body("usage.recorded", usage_id="u1"),  # another event, same usage id
        event_body("usage.recorded", subscription_id="nope"),
        malformed,
        created,
        event_body("usage.recorded", usage_id="u3", subscription_id="s_new"),
        event_body("subscription.cancelled", subscription_id="s_new"),
        event_body("usage.recorded", usage_id="u4", subscription_id="s_new"),
        event_body("invoice.issued", invoice_id="i_b"),
        event_body("usage.recorded", usage_id="u5"),
    ]


def snapshot(results) -> dict:
    events = {
        (e.source, e.event_id): (e.state, e.quarantine_reason)
        for e in FinanceEvent.objects.filter(source="billing-platform")
    }
    return {
        "statuses": [r["status"] for r in results],
        "states": [r.get("state") for r in results],
        "events": events,
        "usage": sorted(
            UsageRecord.objects.values_list("usage_id", "amount", "subscription__subscription_id")
        ),
        "subscriptions": sorted(Subscription.objects.values_list("subscription_id", "state")),
    }


def per_item(bodies, actor) -> list[dict]:
    results = []
    for index, body in enumerate(bodies):
        try:
            outcome = event_ingest(body=body, actor=actor)
        except EventSchemaError:
            results.append({"index": index, "status": 400})
            continue
        results.append({"index": index, "status": outcome.status, **outcome.response})
    return results


def test_batch_and_per_item_paths_give_same_statuses_and_records(world, actor):
    bodies = mixed_batch()
    with transaction.atomic():
        batch = snapshot(events_ingest_batch(bodies=bodies, actor=actor))
        transaction.set_rollback(True)
    single = snapshot(per_item(bodies, actor))
    assert batch == single
    assert batch["statuses"] == [202, 202, 200, 409, 202, 202, 400, 202, 202, 202, 202, 202, 202]
    assert batch["states"][4:6] == ["quarantined", "quarantined"]
    assert batch["states"][10] == "quarantined"  # usage after the cancel in the same batch


def test_batch_fast_path_writes_history_with_actor_and_reason(world, actor):
    body = event_body("usage.recorded", usage_id="u_h")
    events_ingest_batch(bodies=[body], actor=actor)
    usage = UsageRecord.objects.get(usage_id="u_h")
    row = usage.history.get()
    assert row.history_user == actor
    assert row.history_change_reason == f"event usage.recorded billing-platform/{body['id']}"
    event_row = FinanceEvent.objects.get(event_id=body["id"]).history.get()
    assert (event_row.history_user, event_row.state) == (actor, "applied")


def test_batch_resubmitted_answers_all_duplicates(world, actor):
    bodies = [event_body("usage.recorded") for _ in range(5)]
    first = events_ingest_batch(bodies=bodies, actor=actor)
    second = events_ingest_batch(bodies=bodies, actor=actor)
    assert [r["status"] for r in second] == [200] * 5
    assert [r["records"] for r in second] == [r["records"] for r in first]
    assert UsageRecord.objects.count() == 5


def test_batch_fast_path_sends_event_applied_on_commit(
    world, actor, django_capture_on_commit_callbacks
):
    from billing.signals import event_applied

    seen = []

    def receiver(sender, event, **kwargs):
        seen.append(event.event_id)

    event_applied.connect(receiver, weak=False)
    try:
        bodies = [event_body("usage.recorded") for _ in range(3)]
        with django_capture_on_commit_callbacks(execute=True):
            events_ingest_batch(bodies=bodies, actor=actor)
    finally:
        event_applied.disconnect(receiver)
    assert seen == [b["id"] for b in bodies]
