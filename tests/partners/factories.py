"""Builders for partners tests: billing records are made through the real ingest service
(events in, records out), so attribution from subscription.created and the event log are
exercised exactly as in production."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from django.contrib.auth.models import Group
from django.test import TestCase

from billing.models import CreditNote, Customer, Invoice, LegalEntity, Payment, Subscription
from billing.services.events import event_ingest
from partners.models import Agreement, Partner, Settlement
from partners.services.agreements import agreement_create
from partners.services.engine import accruals_recompute
from partners.services.periods import period_bounds

_ids = itertools.count(1)


def next_id(prefix: str) -> str:
    return f"{prefix}_{next(_ids)}"


def ingest(event_type: str, data: dict, *, time: str = "2026-04-01T10:00:00Z", entity="US01"):
    body = {
        "specversion": "1.0",
        "id": next_id("evt"),
        "source": "billing-platform",
        "type": event_type,
        "time": time,
        "entity": entity,
        "data": data,
    }
    # Run the on-commit work (billing's event_applied and its receivers) as production does.
    with TestCase.captureOnCommitCallbacks(execute=True):
        outcome = event_ingest(body=body, actor=None)
    return outcome.event


def entity(code="US01", currency="USD") -> LegalEntity:
    return LegalEntity.objects.get_or_create(
        code=code, defaults={"name": f"Concord {code}", "currency": currency, "country": "US"}
    )[0]


def user(username: str, *roles: str):
    from django.contrib.auth import get_user_model

    person = get_user_model().objects.create_user(username=username, password="x-horse-battery")
    for role in roles:
        person.groups.add(Group.objects.get(name=role))
    return person


def partner(*, kind="reseller", parent: Partner | None = None, currency="USD") -> Partner:
    entity()
    data = {
        "partner_id": next_id("ptn"),
        "name": "Channel Co",
        "kind": kind,
        "parent_partner_id": parent.partner_id if parent else None,
        "country": "US",
        "currency": currency,
    }
    event = ingest("partner.upserted", data)
    assert event.state == "applied", event.quarantine_detail
    return Partner.objects.get(partner_id=data["partner_id"])


def customer(*, country="US", currency="USD") -> Customer:
    entity()
    data = {
        "customer_id": next_id("cus"),
        "name": "Acme",
        "country": country,
        "currency": currency,
    }
    ingest("customer.upserted", data)
    return Customer.objects.get(customer_id=data["customer_id"])


def subscription(
    *, buyer: Customer, seller: Partner | None = None, role=None, start="2026-01-01"
) -> Subscription:
    data = {
        "subscription_id": next_id("sub"),
        "customer_id": buyer.customer_id,
        "plan_code": "pro",
        "product_family": "platform",
        "quantity": "1",
        "unit_price": "100",
        "currency": buyer.currency,
        "interval": "month",
        "start_date": start,
        "partner_id": seller.partner_id if seller else None,
        "partner_role": role or (seller.kind if seller else None),
    }
    event = ingest("subscription.created", data)
    assert event.state == "applied", event.quarantine_detail
    return Subscription.objects.get(subscription_id=data["subscription_id"])


def line(amount: str, *, family="platform", quantity="1", line_id=None, tax="0.00") -> dict:
    quantity_d = Decimal(quantity)
    return {
        "line_id": line_id or next_id("l"),
        "description": f"{family} line",
        "product_family": family,
        "quantity": quantity,
        "unit_price": str(Decimal(amount) / quantity_d),
        "amount": amount,
        "tax_code": "STD",
        "tax_amount": tax,
    }


def invoice(*, sub: Subscription, on: str, lines: list[dict]) -> Invoice:
    subtotal = sum(Decimal(x["amount"]) for x in lines)
    tax = sum(Decimal(x["tax_amount"]) for x in lines)
    data = {
        "invoice_id": next_id("INV"),
        "customer_id": sub.customer.customer_id,
        "subscription_id": sub.subscription_id,
        "issue_date": on,
        "due_date": on,
        "currency": sub.currency,
        "lines": lines,
        "subtotal": str(subtotal),
        "tax_total": str(tax),
        "total": str(subtotal + tax),
    }
    event = ingest("invoice.issued", data, time=f"{on}T10:00:00Z")
    assert event.state == "applied", event.quarantine_detail
    return Invoice.objects.get(invoice_id=data["invoice_id"])


def credit_note(*, of: Invoice, on: str, lines: list[dict]) -> CreditNote:
    total = sum(Decimal(x["amount"]) + Decimal(x["tax_amount"]) for x in lines)
    data = {
        "credit_note_id": next_id("CN"),
        "invoice_id": of.invoice_id,
        "issue_date": on,
        "currency": of.currency,
        "lines": lines,
        "total": str(total),
        "reason": "discount",
    }
    event = ingest("credit_note.issued", data, time=f"{on}T10:00:00Z")
    assert event.state == "applied", event.quarantine_detail
    return CreditNote.objects.get(credit_note_id=data["credit_note_id"])


def payment(*, of: Invoice, on: str, amount: str) -> Payment:
    data = {
        "payment_id": next_id("PAY"),
        "customer_id": of.customer.customer_id,
        "invoice_id": of.invoice_id,
        "amount": amount,
        "currency": of.currency,
        "received_at": f"{on}T12:00:00Z",
        "method": "card",
    }
    event = ingest("payment.settled", data, time=f"{on}T12:00:00Z")
    assert event.state == "applied", event.quarantine_detail
    return Payment.objects.get(payment_id=data["payment_id"])


def refund(*, of: Payment, on: str, amount: str):
    data = {
        "refund_id": next_id("RF"),
        "payment_id": of.payment_id,
        "amount": amount,
        "currency": of.currency,
        "issued_at": f"{on}T12:00:00Z",
    }
    event = ingest("refund.issued", data, time=f"{on}T12:00:00Z")
    assert event.state == "applied", event.quarantine_detail
    return event


def write_off(*, of: Invoice, on: str, amount: str):
    data = {"invoice_id": of.invoice_id, "amount": amount, "currency": of.currency, "reason": "bad"}
    event = ingest("invoice.written_off", data, time=f"{on}T12:00:00Z")
    assert event.state == "applied", event.quarantine_detail
    return event


def rule(code="platform-20", kind="percent_of_net", **values) -> dict:
    return {"code": code, "kind": kind, **values}


def agreement(
    *,
    of: Partner,
    rules: list[dict] | None = None,
    start=dt.date(2026, 1, 1),
    basis="invoiced",
    period="month",
    tier_mode="whole_volume",
    override=False,
    currency="USD",
) -> Agreement:
    return agreement_create(
        partner_id=of.partner_id,
        reference=next_id("AGR"),
        effective_from=start,
        currency=currency,
        settlement_period=period,
        basis=basis,
        tier_mode=tier_mode,
        override_on_children=override,
        rules=rules or [rule(rate_percent="20")],
        actor=None,
    )


def recompute(day: str | dt.date, *, kind="month", seller=None, reads=None):
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    start, end = period_bounds(day, kind)
    extra = {"reads": reads} if reads is not None else {}
    return accruals_recompute(
        period_start=start, period_end=end, partner=seller, actor=None, **extra
    )


def settlement_for(seller: Partner, day: str) -> Settlement:
    start, _ = period_bounds(dt.date.fromisoformat(day), "month")
    return Settlement.objects.get(partner=seller, period_start=start)
