"""Each service leaves history rows naming the actor and the reason."""

import pytest

from billing.models import Customer, FinanceEvent, Invoice, Subscription
from billing.services import event_ingest
from partners.models import Partner
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("event_type", "model", "lookup"),
    [
        ("customer.upserted", Customer, "customer_id"),
        ("subscription.created", Subscription, "subscription_id"),
        ("invoice.issued", Invoice, "invoice_id"),
        ("partner.upserted", Partner, "partner_id"),
    ],
)
def test_ingest_stamps_records_with_actor_and_event_reason(world, actor, event_type, model, lookup):
    body = event_body(
        event_type, **({"customer_id": "cus_x"} if "subscription" in event_type else {})
    )
    event_ingest(body=body, actor=actor)
    record = model.objects.get(**{lookup: body["data"][lookup]})
    row = record.history.get()
    assert row.history_user == actor
    assert row.history_change_reason == f"event {event_type} billing-platform/{body['id']}"


def test_ingest_writes_received_then_applied_event_history(world, actor):
    body = event_body("invoice.issued")
    event_ingest(body=body, actor=actor)
    rows = FinanceEvent.objects.get(event_id=body["id"]).history.order_by("history_id")
    assert [(r.state, r.history_user) for r in rows] == [("received", actor), ("applied", actor)]
    assert rows.last().history_change_reason.endswith(": applied")


def test_ingest_by_api_client_records_its_service_user(api_with_scopes, world):
    import json

    api = api_with_scopes("events:write")
    body = event_body("invoice.issued")
    api.post("/api/v1/events", data=json.dumps(body), content_type="application/json")
    event = FinanceEvent.objects.get(event_id=body["id"])
    assert event.received_by.is_api_client
    assert event.history.first().history_user == event.received_by


def test_deleting_the_sender_keeps_the_event_and_clears_its_actor(world, django_user_model):
    # received_by and the event history's actor carry no database constraint (billing.models
    # says why): deleting a user through Django must still clear them, not leave dangling ids.
    sender = django_user_model.objects.create_user(username="short-lived-sender")
    body = event_body("invoice.issued")
    event_ingest(body=body, actor=sender)
    sender.delete()
    event = FinanceEvent.objects.get(event_id=body["id"])
    assert event.received_by_id is None
    assert [row.history_user_id for row in event.history.all()] == [None, None]
