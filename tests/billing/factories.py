"""Factories for billing records and builders of canonical event bodies."""

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import factory

from billing.choices import FinanceEventState
from billing.models import (
    Customer,
    FinanceEvent,
    Invoice,
    LegalEntity,
    Payment,
    Plan,
    Subscription,
)

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids)}"


class LegalEntityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LegalEntity
        django_get_or_create = ("code",)

    code = "US01"
    name = factory.LazyAttribute(lambda o: f"Concord {o.code}")
    currency = "USD"
    country = "US"


class FinanceEventFactory(factory.django.DjangoModelFactory):
    """A stored event (state received unless told); its body is a usage.recorded stub."""

    class Meta:
        model = FinanceEvent

    source = "billing-platform"
    event_id = factory.LazyFunction(lambda: next_id("evt"))
    type = "usage.recorded"
    event_time = factory.LazyFunction(lambda: datetime(2026, 5, 14, 10, tzinfo=UTC))
    entity = "US01"
    body = factory.LazyAttribute(
        lambda o: {"id": o.event_id, "source": o.source, "type": o.type, "data": {}}
    )
    body_digest = factory.Sequence(lambda n: f"{n:064d}")
    state = FinanceEventState.RECEIVED


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    customer_id = factory.LazyFunction(lambda: next_id("cus"))
    entity = factory.SubFactory(LegalEntityFactory)
    name = factory.Sequence(lambda n: f"Customer {n}")
    country = "US"
    currency = "USD"


class PlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Plan
        django_get_or_create = ("plan_code",)

    plan_code = "pro"
    product_family = "platform"


class SubscriptionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscription

    subscription_id = factory.LazyFunction(lambda: next_id("sub"))
    customer = factory.SubFactory(CustomerFactory)
    plan = factory.SubFactory(PlanFactory)
    quantity = Decimal("1")
    unit_price = Decimal("100")
    currency = "USD"
    interval = "month"
    start_date = date(2026, 1, 1)


class InvoiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Invoice

    invoice_id = factory.LazyFunction(lambda: next_id("inv"))
    customer = factory.SubFactory(CustomerFactory)
    entity = factory.SelfAttribute("customer.entity")
    issue_date = date(2026, 5, 1)
    due_date = date(2026, 5, 31)
    currency = "USD"
    subtotal_amount = Decimal("100.00")
    tax_amount = Decimal("0.00")
    total_amount = Decimal("100.00")
    event = factory.SubFactory(
        FinanceEventFactory, type="invoice.issued", state=FinanceEventState.APPLIED
    )


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    payment_id = factory.LazyFunction(lambda: next_id("pay"))
    customer = factory.SubFactory(CustomerFactory)
    entity = factory.SelfAttribute("customer.entity")
    amount = Decimal("100.00")
    currency = "USD"
    received_at = factory.LazyFunction(lambda: datetime(2026, 5, 20, tzinfo=UTC))
    method = "card"
    event = factory.SubFactory(
        FinanceEventFactory, type="payment.settled", state=FinanceEventState.APPLIED
    )


# ---------------------------------------------------------------------------------------------
# Event bodies


def _line(line_id="l1", quantity="1", unit_price="100.00", amount="100.00", tax="0.00"):
    return {
        "line_id": line_id,
        "description": "Pro plan",
        "product_family": "platform",
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": amount,
        "tax_code": "STD",
        "tax_amount": tax,
    }


def default_data(event_type: str) -> dict:
    """Valid `data` for each event type (ids are fresh; override what a test cares about)."""
    return {
        "customer.upserted": lambda: {
            "customer_id": next_id("cus"),
            "name": "Acme Inc",
            "country": "US",
            "currency": "USD",
        },
        "partner.upserted": lambda: {
            "partner_id": next_id("ptn"),
            "name": "Channel Co",
            "kind": "reseller",
            "country": "US",
            "currency": "USD",
        },
        "subscription.created": lambda: {
            "subscription_id": next_id("sub"),
            "customer_id": "cus_x",
            "plan_code": "pro",
            "product_family": "platform",
            "quantity": "2",
            "unit_price": "50",
            "currency": "USD",
            "interval": "month",
            "start_date": "2026-01-01",
        },
        "subscription.amended": lambda: {
            "subscription_id": "sub_x",
            "effective_date": "2026-06-01",
            "quantity": "5",
        },
        "subscription.renewed": lambda: {"subscription_id": "sub_x", "term_end": "2027-01-01"},
        "subscription.cancelled": lambda: {
            "subscription_id": "sub_x",
            "effective_date": "2026-06-30",
            "reason": "churn",
        },
        "usage.recorded": lambda: {
            "usage_id": next_id("use"),
            "subscription_id": "sub_x",
            "meter": "api_calls",
            "quantity": "1000",
            "unit_price": "0.002",
            "period_start": "2026-05-01",
            "period_end": "2026-05-31",
        },
        "invoice.issued": lambda: {
            "invoice_id": next_id("inv"),
            "customer_id": "cus_x",
            "issue_date": "2026-05-01",
            "due_date": "2026-05-31",
            "currency": "USD",
            "lines": [_line()],
            "subtotal": "100.00",
            "tax_total": "0.00",
            "total": "100.00",
        },
        "credit_note.issued": lambda: {
            "credit_note_id": next_id("cn"),
            "invoice_id": "inv_x",
            "issue_date": "2026-05-10",
            "currency": "USD",
            "lines": [_line(amount="30.00", unit_price="30.00")],
            "total": "30.00",
            "reason": "discount",
        },
        "payment.settled": lambda: {
            "payment_id": next_id("pay"),
            "customer_id": "cus_x",
            "amount": "100.00",
            "currency": "USD",
            "received_at": "2026-05-20T12:00:00Z",
            "method": "card",
        },
        "refund.issued": lambda: {
            "refund_id": next_id("ref"),
            "payment_id": "pay_x",
            "amount": "10.00",
            "currency": "USD",
            "issued_at": "2026-05-25T12:00:00Z",
        },
        "invoice.written_off": lambda: {
            "invoice_id": "inv_x",
            "amount": "100.00",
            "currency": "USD",
            "reason": "uncollectible",
        },
    }[event_type]()


def event_body(event_type: str, *, envelope: dict | None = None, **data) -> dict:
    """A valid canonical event of `event_type`; `data` overrides fields of its data."""
    body = {
        "specversion": "1.0",
        "id": next_id("evt"),
        "source": "billing-platform",
        "type": event_type,
        "time": "2026-05-14T10:00:00Z",
        "entity": "US01",
        "data": {**default_data(event_type), **data},
    }
    body.update(envelope or {})
    return body


def credit_line(amount: str) -> dict:
    """A credit-note line of `amount` (positive) with no tax."""
    return _line(amount=amount, unit_price=amount)
