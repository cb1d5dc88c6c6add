"""The batch fast path gives the same answers and records as ingesting item by item."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from billing.models import (
    FinanceEvent,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentAllocation,
    Subscription,
    UsageRecord,
)
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
        *invoice_items(),
    ]


def invoice_items() -> list[dict]:
    """Invoices the fast path stores, and the unusual ones it leaves to the per-item path."""
    issued = event_body("invoice.issued", invoice_id="i_a")
    return [
        issued,
        issued,  # the same event again → 200
        event_body("invoice.issued", invoice_id="i_a"),  # another event, same invoice id
        event_body("invoice.issued", customer_id="cus_nope"),  # unknown customer
        event_body("invoice.issued", invoice_id="inv_x"),  # already stored
        event_body("invoice.issued", issue_date="2026-01-15"),  # closed period
        event_body("invoice.issued", currency="EUR"),  # not the customer's currency
        event_body("invoice.issued", subscription_id="sub_x"),
        event_body("payment.settled", invoice_id="i_c", amount="40.00"),  # before i_c exists
        event_body("invoice.issued", invoice_id="i_c"),
        event_body("payment.settled", amount="150.00"),  # on account: oldest open invoices
        event_body("invoice.issued", invoice_id="i_d"),
        event_body("payment.settled", invoice_id="i_d", amount="30.00"),
        event_body("usage.recorded", usage_id="u6"),
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
        "invoices": sorted(
            Invoice.objects.values_list(
                "invoice_id",
                "state",
                "total_amount",
                "paid_amount",
                "subscription_id",
                "event__event_id",
            )
        ),
        "lines": sorted(
            InvoiceLine.objects.values_list("invoice__invoice_id", "line_id", "amount")
        ),
        "allocations": sorted(
            PaymentAllocation.objects.values_list(
                "payment__payment_id", "invoice__invoice_id", "amount"
            )
        ),
        # The case ids depend on the order cases were opened; a 400's errors on the path.
        "results": [
            {k: v for k, v in r.items() if k != "case" and (k != "errors" or r["status"] != 400)}
            for r in results
        ],
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
    world["entity"].closed_through = date(2026, 1, 31)
    world["entity"].save()
    bodies = mixed_batch()
    with transaction.atomic():
        batch = snapshot(events_ingest_batch(bodies=bodies, actor=actor))
        transaction.set_rollback(True)
    single = snapshot(per_item(bodies, actor))
    assert batch == single
    assert batch["statuses"][:13] == [
        202,
        202,
        200,
        409,
        202,
        202,
        400,
        202,
        202,
        202,
        202,
        202,
        202,
    ]
    assert batch["states"][4:6] == ["quarantined", "quarantined"]
    assert batch["states"][10] == "quarantined"  # usage after the cancel in the same batch
    assert batch["statuses"][13:] == [202, 200] + [202] * 12
    assert batch["states"][13:] == [
        "applied", "applied",
        "quarantined", "quarantined", "quarantined", "quarantined", "quarantined",
        "applied", "quarantined", "applied", "applied", "applied", "applied", "applied",
    ]  # fmt: skip


def test_batch_fast_path_writes_history_with_actor_and_reason(world, actor):
    body = event_body("usage.recorded", usage_id="u_h")
    events_ingest_batch(bodies=[body], actor=actor)
    event = FinanceEvent.objects.get(event_id=body["id"])
    # A usage record is never changed: it has no history; its event's row is the audit trail.
    assert UsageRecord.objects.get(usage_id="u_h").event == event
    assert not hasattr(UsageRecord, "history")
    event_row = event.history.get()
    assert (event_row.history_user, event_row.state) == (actor, "applied")
    assert event_row.history_change_reason == (
        f"event usage.recorded billing-platform/{body['id']}: applied"
    )


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

    def receiver(sender, events, **kwargs):
        seen.append([event.event_id for event in events])

    event_applied.connect(receiver, weak=False)
    try:
        bodies = [event_body("usage.recorded") for _ in range(3)]
        with django_capture_on_commit_callbacks(execute=True):
            events_ingest_batch(bodies=bodies, actor=actor)
    finally:
        event_applied.disconnect(receiver)
    assert seen == [[b["id"] for b in bodies]]  # one signal for the batch


def payment_batch() -> list[dict]:
    """Payments on stored invoices (the fast path) and the unusual ones (per item)."""
    paid = event_body("payment.settled", invoice_id="inv_x", amount="40.00")
    return [
        paid,
        event_body("payment.settled", amount="30.00"),  # on account: the open invoices
        paid,  # the same event again → 200
        event_body("payment.settled", invoice_id="inv_x", amount="50.00"),  # 30 open left
        event_body("payment.settled", invoice_id="inv_x", amount="5.00"),  # inv_x paid now
        event_body("payment.settled", customer_id="cus_nope"),  # unknown customer
        event_body("payment.settled", payment_id="pay_x"),  # already stored
        event_body("payment.settled", invoice_id="inv_nope"),  # unknown invoice
        event_body("payment.settled", received_at="2026-01-15T00:00:00Z"),  # closed period
        event_body("usage.recorded", usage_id="u_p"),
    ]


def payment_snapshot(results) -> dict:
    invoice_history = Invoice.history.filter(invoice_id="inv_x").order_by("history_id")
    return {
        **snapshot(results),
        "payments": sorted(
            Payment.objects.values_list("payment_id", "amount", "allocated_amount", "event__state")
        ),
        "invoice_history": [
            (h.history_type, h.state, h.paid_amount, h.history_change_reason)
            for h in invoice_history
        ],
    }


def test_batch_and_per_item_paths_give_same_payment_records_and_history(world, actor):
    world["entity"].closed_through = date(2026, 1, 31)
    world["entity"].save()
    bodies = payment_batch()
    with transaction.atomic():
        batch = payment_snapshot(events_ingest_batch(bodies=bodies, actor=actor))
        transaction.set_rollback(True)
    single = payment_snapshot(per_item(bodies, actor))
    assert batch == single
    assert batch["statuses"] == [202, 202, 200, 202, 202, 202, 202, 202, 202, 202]
    assert batch["states"][5:9] == ["quarantined"] * 4
    assert batch["results"][3]["records"]["allocations"] == {"inv_x": "30.00"}
    assert batch["results"][3]["records"]["unallocated"] == "20.00"
    assert [h[:3] for h in batch["invoice_history"]][1:] == [
        ("~", "partially_paid", Decimal("40.0000")),
        ("~", "partially_paid", Decimal("70.0000")),
        ("~", "paid", Decimal("100.0000")),
    ]


def test_batch_payment_on_invoice_paid_after_preload_allocates_on_locked_row(
    world, actor, monkeypatch
):
    """Another writer pays part of inv_x between the batch's reads and its transaction: the
    fast path allocates on the invoice as locked (30 open, not 100) and records the
    transition from the locked state, where a stale copy would be refused as concurrent."""
    from billing.services.batch.plan import Classifier

    preload = Classifier.preload

    def preload_then_someone_pays(self, items):
        preload(self, items)
        other = event_body("payment.settled", invoice_id="inv_x", amount="70.00")
        assert event_ingest(body=other, actor=actor).status == 202

    monkeypatch.setattr(Classifier, "preload", preload_then_someone_pays)
    body = event_body("payment.settled", invoice_id="inv_x", amount="50.00")
    (result,) = events_ingest_batch(bodies=[body], actor=actor)

    assert result["status"] == 202
    assert result["records"]["allocations"] == {"inv_x": "30.00"}
    assert result["records"]["unallocated"] == "20.00"
    invoice = Invoice.objects.get(invoice_id="inv_x")
    assert (invoice.state, invoice.paid_amount) == ("paid", Decimal("100.00"))
    assert [h.state for h in invoice.history.order_by("history_id")] == [
        "issued",
        "partially_paid",
        "paid",
    ]


def test_fast_path_state_comes_from_the_apply_declaration(monkeypatch):
    """The fast path stores an event in the target `FinanceEvent.apply` declares, and refuses
    to when `apply` would not leave the state a new event starts in."""
    from billing.services import events
    from config import fsm

    declared = fsm.transition_states(FinanceEvent, "apply")
    events.applied_on_insert.cache_clear()
    assert events.applied_on_insert() == declared.target == "applied"

    moved = fsm.TransitionStates("apply", "state", ("quarantined",), "applied")
    monkeypatch.setattr(events, "transition_states", lambda model, name: moved)
    events.applied_on_insert.cache_clear()
    try:
        with pytest.raises(ImproperlyConfigured, match="not the initial state 'received'"):
            events.applied_on_insert()
    finally:
        monkeypatch.undo()
        events.applied_on_insert.cache_clear()
