"""Payments settle invoices: named invoice first, else oldest due date (ties by invoice_id)."""

from datetime import date
from decimal import Decimal

import pytest

from billing.models import Invoice, Payment
from billing.services import event_ingest
from tests.billing.factories import InvoiceFactory, event_body

pytestmark = pytest.mark.django_db


def test_payment_without_invoice_pays_oldest_due_first_then_leaves_rest(world, actor):
    customer = world["customer"]
    InvoiceFactory(invoice_id="b_late", customer=customer, due_date=date(2026, 7, 1))
    InvoiceFactory(invoice_id="a_tie", customer=customer, due_date=date(2026, 6, 1))
    InvoiceFactory(invoice_id="b_tie", customer=customer, due_date=date(2026, 6, 1))
    InvoiceFactory(invoice_id="eur", customer=customer, currency="EUR", due_date=date(2026, 1, 1))
    outcome = event_ingest(
        body=event_body("payment.settled", payment_id="p", amount="450.00"), actor=actor
    )
    # inv_x (due 05-31) 100, a_tie 100, b_tie 100, b_late 100 → 400 allocated, 50 left.
    assert outcome.response["records"]["allocations"] == {
        "inv_x": "100.00", "a_tie": "100.00", "b_tie": "100.00", "b_late": "100.00",
    }  # fmt: skip
    payment = Payment.objects.get(payment_id="p")
    assert payment.unallocated_amount == Decimal("50.00")
    assert Invoice.objects.get(invoice_id="eur").paid_amount == 0


def test_partial_payment_leaves_invoice_partially_paid(world, actor):
    event_ingest(
        body=event_body("payment.settled", invoice_id="inv_x", amount="40.00"), actor=actor
    )
    invoice = Invoice.objects.get(invoice_id="inv_x")
    assert (invoice.state, invoice.open_amount) == ("partially_paid", Decimal("60.00"))


def test_payment_for_named_invoice_allocates_only_the_open_amount(world, actor):
    event_ingest(
        body=event_body("payment.settled", payment_id="p2", invoice_id="inv_x", amount="150.00"),
        actor=actor,
    )
    payment = Payment.objects.get(payment_id="p2")
    assert (payment.allocated_amount, payment.unallocated_amount) == (
        Decimal("100.00"),
        Decimal("50.00"),
    )
    assert payment.allocations.get().invoice.invoice_id == "inv_x"


def test_payment_for_another_customers_invoice_is_quarantined(world, actor):
    from tests.billing.factories import CustomerFactory

    CustomerFactory(customer_id="other", entity=world["entity"])
    outcome = event_ingest(
        body=event_body("payment.settled", customer_id="other", invoice_id="inv_x"), actor=actor
    )
    assert outcome.event.quarantine_reason == "conflict"
