"""What billing exposes to erp_sync: lineage, the outbox, and ERP status on records."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.errors import BillingError
from billing.models import FinanceEvent
from billing.selectors import event_get, events_applied_undispatched, record_for_event
from billing.services import (
    event_ingest,
    event_mark_dispatched,
    record_erp_status_set,
    records_erp_status_set_many,
)
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db


def test_record_for_event_returns_the_invoice_it_created(world, actor):
    outcome = event_ingest(body=event_body("invoice.issued", invoice_id="i_l"), actor=actor)
    assert record_for_event(outcome.event).invoice_id == "i_l"
    customer = event_ingest(body=event_body("customer.upserted"), actor=actor)
    assert record_for_event(customer.event) is None


def test_event_get_by_source_and_id(world, actor):
    body = event_body("invoice.issued")
    event_ingest(body=body, actor=actor)
    assert event_get(source=body["source"], event_id=body["id"]).type == "invoice.issued"


def test_undispatched_events_until_marked(world, actor):
    outcome = event_ingest(body=event_body("invoice.issued"), actor=actor)
    pending = events_applied_undispatched(older_than=timedelta(0), limit=10)
    assert outcome.event in list(pending)
    assert event_mark_dispatched(event_ids=[outcome.event.pk]) == 1
    assert event_mark_dispatched(event_ids=[outcome.event.pk]) == 0  # idempotent
    assert outcome.event not in list(events_applied_undispatched(older_than=timedelta(0), limit=10))


def test_undispatched_respects_older_than(world, actor):
    fresh = event_ingest(body=event_body("invoice.issued"), actor=actor).event
    assert not events_applied_undispatched(older_than=timedelta(hours=1), limit=10).exists()
    old = event_ingest(body=event_body("invoice.issued"), actor=actor).event
    FinanceEvent.objects.filter(pk=old.pk).update(applied_at=timezone.now() - timedelta(hours=2))
    pending = list(events_applied_undispatched(older_than=timedelta(hours=1), limit=10))
    assert pending == [old]
    assert fresh not in pending


def test_record_erp_status_set_writes_history_with_actor_and_reason(world, actor):
    outcome = event_ingest(body=event_body("payment.settled"), actor=actor)
    payment = record_erp_status_set(
        event=outcome.event, status="posted", document_number="PAY-1", document_id="9", actor=actor
    )
    payment.refresh_from_db()
    assert (payment.erp_status, payment.erp_document_number) == ("posted", "PAY-1")
    row = payment.history.first()
    assert row.history_user == actor
    assert row.history_change_reason.endswith("ERP status posted")
    rows = payment.history.count()
    record_erp_status_set(event=outcome.event, status="posted", actor=actor)
    assert payment.history.count() == rows  # unchanged → no new row


def test_record_erp_status_set_without_record_is_refused(world, actor):
    outcome = event_ingest(body=event_body("customer.upserted"), actor=actor)
    with pytest.raises(BillingError) as error:
        record_erp_status_set(event=outcome.event, status="posted", actor=actor)
    assert error.value.code == "no_record"


def test_records_erp_status_set_many_changes_only_what_differs(world, actor):
    first = event_ingest(body=event_body("invoice.issued", invoice_id="i_m1"), actor=actor).event
    second = event_ingest(body=event_body("invoice.issued", invoice_id="i_m2"), actor=actor).event
    record_erp_status_set(event=second, status="posted", document_number="N2", actor=actor)
    no_record = event_ingest(body=event_body("customer.upserted"), actor=actor).event

    changed = records_erp_status_set_many(
        [
            (first, "posted", "N1", "id-1"),
            (second, "posted", "N2", ""),  # as it is: untouched, no history row
            (no_record, "posted", "", ""),  # makes no record: skipped
        ],
        actor=actor,
    )

    assert changed == 1
    invoice = record_for_event(first)
    assert (invoice.erp_status, invoice.erp_document_number, invoice.erp_document_id) == (
        "posted", "N1", "id-1",
    )  # fmt: skip
    row = invoice.history.order_by("-history_id").first()
    assert (row.history_user, row.erp_status) == (actor, "posted")
    assert row.history_change_reason.endswith(": ERP status posted")
    assert record_for_event(second).history.count() == 2  # issued, then the single set
