"""Payments settle invoices: named invoice first, else oldest due date (ties by invoice_id).

The rule is `billing.handlers.payments` (`_allocation_targets` orders, `allocation_plan`
shares out); the batch fast path books with the same `allocation_plan` on invoices it orders
itself. The examples pin single cases; the property test drives random invoices and payments
through the real ingestion (events → database), one by one and in batches, and checks every
stored allocation against the rule.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing.models import FinanceEvent, Invoice, Payment, PaymentAllocation
from billing.services import event_ingest, events_ingest_batch
from tests.billing.factories import CustomerFactory, InvoiceFactory, credit_line, event_body

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
    CustomerFactory(customer_id="other", entity=world["entity"])
    outcome = event_ingest(
        body=event_body("payment.settled", customer_id="other", invoice_id="inv_x"), actor=actor
    )
    assert outcome.event.quarantine_reason == "conflict"


# --- the rule as a property, through the real ingestion ----------------------------------------

CUSTOMERS = ("cus_a", "cus_b")
FIRST_DUE = date(2026, 5, 20)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class InvoiceSpec:
    invoice_id: str
    customer_id: str
    total: Decimal
    due_date: date
    fate: str  # "open", "credited" (part credited, still open) or "written_off" (closed)


@dataclass(frozen=True)
class PaymentSpec:
    payment_id: str
    customer_id: str
    amount: Decimal
    invoice_id: str | None  # None: on account, the rule picks the invoices


def cents(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.integers(low, high).map(lambda n: Decimal(n) * CENT)


@st.composite
def scenarios(draw) -> tuple[list[InvoiceSpec], list[PaymentSpec]]:
    """A few invoices per customer (due dates close together, so ties happen) and payments."""
    invoices = [
        InvoiceSpec(
            # Upper-case letters and digits only: PostgreSQL's collation and Python agree.
            invoice_id=f"I{n:02d}",
            customer_id=draw(st.sampled_from(CUSTOMERS)),
            total=draw(cents(1, 50_000)),
            due_date=FIRST_DUE + timedelta(days=draw(st.integers(0, 2))),
            fate=draw(st.sampled_from(["open", "open", "open", "credited", "written_off"])),
        )
        for n in range(draw(st.integers(0, 8)))
    ]
    payments = []
    for n in range(draw(st.integers(1, 6))):
        named = draw(st.none() | st.sampled_from(invoices)) if invoices else None
        payments.append(
            PaymentSpec(
                payment_id=f"P{n:02d}",
                customer_id=named.customer_id if named else draw(st.sampled_from(CUSTOMERS)),
                amount=draw(cents(1, 80_000)),
                invoice_id=named.invoice_id if named else None,
            )
        )
    return invoices, payments


def invoice_events(spec: InvoiceSpec) -> list[dict]:
    amount = format(spec.total, "f")
    line = {**credit_line(amount), "quantity": "1"}
    events = [
        event_body(
            "invoice.issued",
            invoice_id=spec.invoice_id,
            customer_id=spec.customer_id,
            due_date=spec.due_date.isoformat(),
            lines=[line],
            subtotal=amount,
            tax_total="0.00",
            total=amount,
        )
    ]
    if spec.fate == "credited" and spec.total > CENT:
        credit = format((spec.total / 3).quantize(CENT), "f")
        events.append(
            event_body(
                "credit_note.issued",
                invoice_id=spec.invoice_id,
                lines=[credit_line(credit)],
                total=credit,
            )
        )
    elif spec.fate == "written_off":
        events.append(event_body("invoice.written_off", invoice_id=spec.invoice_id, amount=amount))
    return events


def payment_event(spec: PaymentSpec) -> dict:
    return event_body(
        "payment.settled",
        payment_id=spec.payment_id,
        customer_id=spec.customer_id,
        amount=format(spec.amount, "f"),
        invoice_id=spec.invoice_id,
    )


def ingest(path: str, invoice_bodies: list[dict], payment_bodies: list[dict], actor) -> list:
    """Send the events one per call, or in batches; returns each payment's answer."""
    if path == "single":
        for body in invoice_bodies:
            event_ingest(body=body, actor=actor)
        return [event_ingest(body=body, actor=actor).response for body in payment_bodies]
    if path == "batch":  # invoices first, so the payments take the batch fast path
        events_ingest_batch(bodies=invoice_bodies, actor=actor)
        return events_ingest_batch(bodies=payment_bodies, actor=actor)
    # "one batch": invoices and their payments together (payments go item by item)
    return events_ingest_batch(bodies=invoice_bodies + payment_bodies, actor=actor)[
        len(invoice_bodies) :
    ]


def check_allocations(payments: list[PaymentSpec], answers: list) -> None:
    """Replay the stored allocations payment by payment against the rule."""
    invoices = {i.invoice_id: i for i in Invoice.objects.select_related("customer")}
    # What each invoice had open before any payment: its total less credits and write-offs.
    open_amount = {
        i.invoice_id: i.total_amount - i.credited_amount - i.written_off_amount
        for i in invoices.values()
    }
    closed = {key for key, i in invoices.items() if i.state == "written_off"}
    for spec, answer in zip(payments, answers, strict=True):
        payment = Payment.objects.get(payment_id=spec.payment_id)
        shares = dict(
            PaymentAllocation.objects.filter(payment=payment).values_list(
                "invoice__invoice_id", "amount"
            )
        )
        allocated = sum(shares.values(), Decimal(0))
        # The allocations add up to the allocated amount, never more than the payment; the
        # on-account remainder is what is left, in the database and in the answer.
        assert allocated == payment.allocated_amount <= payment.amount == spec.amount
        assert payment.unallocated_amount == spec.amount - allocated
        records = answer.get("records") or {}
        if records:
            assert records["unallocated"] == format((spec.amount - allocated).quantize(CENT), "f")
            assert {k: Decimal(v) for k, v in records["allocations"].items()} == shares
        # Each share is positive and within what the invoice had open at that moment.
        for invoice_id, share in shares.items():
            assert 0 < share <= open_amount[invoice_id], (spec, invoice_id, share)
            assert invoices[invoice_id].customer.customer_id == spec.customer_id
        # The invoices the rule may pay, in the order it pays them.
        if spec.invoice_id is not None:
            candidates = [spec.invoice_id] if spec.invoice_id not in closed else []
        else:
            candidates = sorted(
                (
                    key
                    for key, i in invoices.items()
                    if i.customer.customer_id == spec.customer_id
                    and key not in closed
                    and open_amount[key] > 0
                ),
                key=lambda key: (invoices[key].due_date, key),  # oldest due, then invoice_id
            )
        expected, left = {}, spec.amount
        for key in candidates:
            share = min(left, open_amount[key])
            if share > 0:
                expected[key] = share
                left -= share
        assert shares == expected, (spec, candidates)
        for invoice_id, share in shares.items():
            open_amount[invoice_id] -= share
    # Each invoice is left with what the payments did not take, and the state that says so.
    for key, invoice in Invoice.objects.in_bulk(field_name="invoice_id").items():
        assert invoice.open_amount == open_amount[key]
        if key not in closed:
            if not invoice.paid_amount:
                assert invoice.state == "issued"
            else:
                assert invoice.state == ("paid" if not invoice.open_amount else "partially_paid")


PATHS = ["single", "batch", "one batch"]
# Always tried on each path: a payment on account that covers only part of two invoices due
# the same day (the tie goes to the lower invoice_id), a later one due earlier, and another
# customer's older invoice.
TIED = (
    [
        InvoiceSpec("I01", "cus_a", Decimal("30.00"), FIRST_DUE, "open"),
        InvoiceSpec("I02", "cus_a", Decimal("30.00"), FIRST_DUE + timedelta(days=1), "open"),
        InvoiceSpec("I03", "cus_a", Decimal("30.00"), FIRST_DUE + timedelta(days=1), "open"),
        InvoiceSpec("I04", "cus_b", Decimal("30.00"), FIRST_DUE - timedelta(days=9), "open"),
        InvoiceSpec("I05", "cus_a", Decimal("30.00"), FIRST_DUE - timedelta(days=1), "written_off"),
    ],
    [PaymentSpec("P01", "cus_a", Decimal("45.00"), None)],
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scenario=scenarios(), path=st.sampled_from(PATHS))
@example(scenario=TIED, path="single")
@example(scenario=TIED, path="batch")
@example(scenario=TIED, path="one batch")
def test_payment_allocation_follows_the_rule_on_random_invoices_and_payments(
    entity, actor, scenario, path
):
    invoices, payments = scenario
    with transaction.atomic():  # each example starts from the same empty books
        for customer_id in CUSTOMERS:
            CustomerFactory(customer_id=customer_id, entity=entity)
        invoice_bodies = [body for spec in invoices for body in invoice_events(spec)]
        answers = ingest(path, invoice_bodies, [payment_event(p) for p in payments], actor)

        assert set(FinanceEvent.objects.values_list("state", flat=True)) == {"applied"}
        check_allocations(payments, answers)
        transaction.set_rollback(True)
