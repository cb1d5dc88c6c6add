"""Every (source, transition) pair of Subscription, Invoice and FinanceEvent."""

from datetime import date
from decimal import Decimal

import pytest
from django_fsm import TransitionNotAllowed

from billing.models import FinanceEvent, Invoice, Subscription

SUBSCRIPTION_STATES = ["active", "past_due", "cancelled", "expired"]
SUBSCRIPTION = {
    # transition: (kwargs, {source: target or None when not allowed})
    "amend": ({"quantity": Decimal(2)}, {"active": "active", "past_due": "past_due"}),
    "renew": ({"term_end": date(2027, 1, 1)}, {"active": "active", "past_due": "past_due"}),
    "cancel": ({"effective_date": date(2026, 6, 1)}, {"active": "cancelled",
                                                       "past_due": "cancelled"}),
    "expire": ({}, {"active": "expired", "past_due": "expired"}),
    "mark_past_due": ({}, {"active": "past_due"}),
    "mark_current": ({}, {"past_due": "active"}),
}  # fmt: skip
# transition: (field it changes, value before, value after)
SUBSCRIPTION_CHANGES = {
    "amend": ("quantity", Decimal(1), Decimal(2)),
    "renew": ("term_end", date(2026, 12, 31), date(2027, 1, 1)),
    "cancel": ("ended_on", None, date(2026, 6, 1)),
}


@pytest.mark.parametrize("source", SUBSCRIPTION_STATES)
@pytest.mark.parametrize("name", SUBSCRIPTION)
def test_subscription_transition_from_each_state(source, name):
    kwargs, allowed = SUBSCRIPTION[name]
    subscription = Subscription(
        state=source, quantity=Decimal(1), term_end=date(2026, 12, 31), ended_on=None
    )
    field, before, after = SUBSCRIPTION_CHANGES.get(name, (None, None, None))
    if source in allowed:
        getattr(subscription, name)(**kwargs)
        assert subscription.state == allowed[source]
        if field:
            assert getattr(subscription, field) == after
    else:
        with pytest.raises(TransitionNotAllowed):
            getattr(subscription, name)(**kwargs)
        if field:
            assert getattr(subscription, field) == before


INVOICE_STATES = ["issued", "partially_paid", "paid", "credited", "written_off"]


def _invoice(state):
    return Invoice(state=state, total_amount=Decimal(100), subtotal_amount=Decimal(100))


@pytest.mark.parametrize("source", INVOICE_STATES)
@pytest.mark.parametrize(
    ("name", "amount", "target"),
    [
        ("record_payment", Decimal(40), "partially_paid"),
        ("record_payment", Decimal(100), "paid"),
        ("credit", Decimal(100), "credited"),
        ("write_off", Decimal(100), "written_off"),
    ],
)
def test_invoice_transition_from_each_state(source, name, amount, target):
    invoice = _invoice(source)
    if source in ("issued", "partially_paid"):
        getattr(invoice, name)(amount=amount)
        assert invoice.state == target
    else:
        with pytest.raises(TransitionNotAllowed):
            getattr(invoice, name)(amount=amount)


def test_invoice_partial_credit_keeps_state():
    invoice = _invoice("partially_paid")
    invoice.credit(amount=Decimal(10))
    assert invoice.state == "partially_paid"


EVENT_STATES = ["received", "applied", "quarantined", "discarded", "superseded"]
EVENT = {
    "apply": ((), {"received": "applied"}),
    "quarantine": (("unknown_customer", "x"), {"received": "quarantined"}),
    "replay": ((), {"quarantined": "applied"}),
    "discard": ((), {"quarantined": "discarded"}),
    "supersede": ((), {"quarantined": "superseded"}),
}


@pytest.mark.parametrize("source", EVENT_STATES)
@pytest.mark.parametrize("name", EVENT)
def test_finance_event_transition_from_each_state(source, name):
    args, allowed = EVENT[name]
    event = FinanceEvent(state=source)
    if source in allowed:
        getattr(event, name)(*args)
        assert event.state == allowed[source]
    else:
        with pytest.raises(TransitionNotAllowed):
            getattr(event, name)(*args)
