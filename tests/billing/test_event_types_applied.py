"""Every event type of DESIGN.md's table applies to the records it names."""

from decimal import Decimal

import pytest

from billing.choices import FinanceEventState, InvoiceState, SubscriptionState
from billing.models import (
    CreditNote,
    Customer,
    Invoice,
    Payment,
    Plan,
    Refund,
    Subscription,
    UsageRecord,
    WriteOff,
)
from billing.services import event_ingest
from partners.models import Partner
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db


def ingest(body, actor):
    outcome = event_ingest(body=body, actor=actor)
    assert outcome.status == 202, outcome.response
    assert outcome.event.state == FinanceEventState.APPLIED, outcome.response
    return outcome


def test_ingest_customer_upserted_creates_then_updates_customer(entity, actor):
    ingest(event_body("customer.upserted", customer_id="c1", name="Acme"), actor)
    ingest(event_body("customer.upserted", customer_id="c1", name="Acme 2", region="CA"), actor)
    customer = Customer.objects.get(customer_id="c1")
    assert (customer.name, customer.region, customer.entity) == ("Acme 2", "CA", entity)


def test_ingest_partner_upserted_creates_partner_under_parent(entity, actor):
    ingest(event_body("partner.upserted", partner_id="p1"), actor)
    outcome = ingest(event_body("partner.upserted", partner_id="p2", parent_partner_id="p1"), actor)
    assert Partner.objects.get(partner_id="p2").parent.partner_id == "p1"
    assert outcome.response["records"] == {"partner": "p2"}


def test_ingest_subscription_created_creates_subscription_and_plan(world, actor):
    outcome = ingest(
        event_body(
            "subscription.created", subscription_id="s1", customer_id="cus_x", plan_code="ent"
        ),
        actor,
    )
    subscription = Subscription.objects.get(subscription_id="s1")
    assert subscription.plan == Plan.objects.get(plan_code="ent")
    assert subscription.quantity == Decimal("2")
    assert outcome.response["records"]["subscription"] == "s1"


def test_ingest_subscription_amended_changes_quantity(world, actor):
    ingest(event_body("subscription.amended", quantity="7"), actor)
    subscription = Subscription.objects.get(subscription_id="sub_x")
    assert subscription.quantity == Decimal("7")
    assert subscription.state == SubscriptionState.ACTIVE


def test_ingest_subscription_renewed_sets_term_end(world, actor):
    ingest(event_body("subscription.renewed", term_end="2027-06-30"), actor)
    assert str(Subscription.objects.get(subscription_id="sub_x").term_end) == "2027-06-30"


def test_ingest_subscription_cancelled_cancels(world, actor):
    ingest(event_body("subscription.cancelled"), actor)
    subscription = Subscription.objects.get(subscription_id="sub_x")
    assert subscription.state == SubscriptionState.CANCELLED
    assert str(subscription.ended_on) == "2026-06-30"


def test_ingest_usage_recorded_prices_usage_in_subscription_currency(world, actor):
    ingest(event_body("usage.recorded", usage_id="u1", quantity="1234", unit_price="0.0015"), actor)
    usage = UsageRecord.objects.get(usage_id="u1")
    assert usage.amount == Decimal("1.85")  # 1.851 rounded half-up to cents
    assert usage.currency == "USD"


def test_ingest_invoice_issued_creates_invoice_with_lines(world, actor):
    ingest(event_body("invoice.issued", invoice_id="i1", subscription_id="sub_x"), actor)
    invoice = Invoice.objects.get(invoice_id="i1")
    assert invoice.total_amount == Decimal("100.00")
    assert invoice.subscription.subscription_id == "sub_x"
    assert [line.line_id for line in invoice.lines.all()] == ["l1"]
    assert invoice.state == InvoiceState.ISSUED


def test_ingest_credit_note_issued_credits_invoice(world, actor):
    ingest(event_body("credit_note.issued", credit_note_id="cn1"), actor)
    invoice = Invoice.objects.get(invoice_id="inv_x")
    assert CreditNote.objects.get(credit_note_id="cn1").total_amount == Decimal("30.00")
    assert invoice.credited_amount == Decimal("30.00")
    assert invoice.open_amount == Decimal("70.00")


def test_ingest_payment_settled_with_invoice_pays_it(world, actor):
    ingest(event_body("payment.settled", payment_id="p1", invoice_id="inv_x"), actor)
    invoice = Invoice.objects.get(invoice_id="inv_x")
    assert invoice.state == InvoiceState.PAID
    assert Payment.objects.get(payment_id="p1").allocated_amount == Decimal("100.00")


def test_ingest_refund_issued_adds_to_refunded_amount(world, actor):
    ingest(event_body("refund.issued", refund_id="r1", amount="10.00"), actor)
    assert Refund.objects.get(refund_id="r1").amount == Decimal("10.00")
    assert Payment.objects.get(payment_id="pay_x").refunded_amount == Decimal("10.00")


def test_ingest_invoice_written_off_closes_invoice(world, actor):
    ingest(event_body("invoice.written_off", amount="100.00"), actor)
    invoice = Invoice.objects.get(invoice_id="inv_x")
    assert invoice.state == InvoiceState.WRITTEN_OFF
    assert WriteOff.objects.get(invoice=invoice).amount == Decimal("100.00")
