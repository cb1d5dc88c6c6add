"""Equivalence property: the one-event fast path (billing.services.fast_one) leaves what the
slow path leaves, row for row.

Random mixes of events (every type, usage, invoices and payments weighted; duplicates,
conflicting duplicates, malformed bodies; usage of unknown, new and cancelled subscriptions,
of an unknown entity, with usage ids taken; invoices of one to three lines with and without
tax, of unknown, EUR and new customers, of unknown and new subscriptions, in a closed period,
with invoice ids taken or awaited by an earlier payment) go through `event_ingest` one at a
time, from the same starting state (`world_two_invoices`: books closed through January),
once as it runs (through the fast path where it applies) and once with the fast path
turned off. Every row of the billing, partners and exceptions tables, history tables
included (each event's "+" received and "~" applied rows, with their state, reason, user
and every other column), and every answer must be the same once database ids and clock
times are normalised. Nothing is normalised away beyond that.
"""

from decimal import Decimal
from unittest import mock

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st

from billing.services import fast_one
from tests.billing.factories import _line
from tests.billing.test_event_batch_equivalence import (
    AMOUNTS,
    CLOSED,
    CURRENCIES,
    CUSTOMERS,
    DATA,
    ENTITIES,
    OPEN,
    Snapshot,
    _scrub,
    bodies_of,
    one_by_one,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _invoice(invoice_id, customer_id, lines, issue_date, currency, subscription_id) -> dict:
    """invoice.issued data with `lines` ((amount, tax), ...): totals that add up."""
    amounts = [Decimal(amount) for amount, _ in lines]
    taxes = [Decimal(tax) for _, tax in lines]
    return {
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "issue_date": issue_date,
        "due_date": "2026-05-31",
        "currency": currency,
        "subscription_id": subscription_id,
        "lines": [
            _line(
                line_id=f"l{n}",
                quantity="2",
                unit_price=str(Decimal(amount) / 2),
                amount=amount,
                tax=tax,
            )
            for n, (amount, tax) in enumerate(lines)
        ],
        "subtotal": str(sum(amounts)),
        "tax_total": str(sum(taxes)),
        "total": str(sum(amounts) + sum(taxes)),
    }


INVOICE = st.builds(
    _invoice,
    st.sampled_from(["inv_a", "inv_b", "inv_c", "inv_x"]),
    st.sampled_from(["cus_x"] * 6 + ["cus_z"] * 2 + CUSTOMERS),
    st.lists(
        st.tuples(st.sampled_from(AMOUNTS), st.sampled_from(["0.00", "2.50", "19.00"])),
        min_size=1,
        max_size=3,
    ),
    st.sampled_from([OPEN] * 4 + [CLOSED]),
    CURRENCIES,
    st.sampled_from([None, None, "sub_x", "sub_x", "sub_new", "sub_nope"]),
)
TWO_LINES = [("100.00", "19.00"), ("30.00", "0.00")]
PAY = {
    "payment_id": "pay_a",
    "customer_id": "cus_x",
    "amount": "30.00",
    "currency": "USD",
    "received_at": "2026-05-20T12:00:00Z",
}


def _issue(invoice_id, customer_id, *, issue_date=OPEN, subscription_id=None, entity="US01"):
    """A step: invoice `invoice_id` of two lines (one taxed) in USD."""
    data = _invoice(invoice_id, customer_id, TWO_LINES, issue_date, "USD", subscription_id)
    return ("new", "invoice.issued", data, entity)


FAST_DATA = {**DATA, "invoice.issued": INVOICE}
WEIGHTED_TYPES = (
    list(DATA)
    + ["usage.recorded"] * 8
    + ["invoice.issued"] * 6
    + ["payment.settled"] * 6
    + ["subscription.cancelled"] * 2
)
NEW = st.sampled_from(WEIGHTED_TYPES).flatmap(
    lambda kind: st.tuples(st.just("new"), st.just(kind), FAST_DATA[kind], ENTITIES)
)
STEP = st.one_of(
    *[NEW] * 6,
    st.tuples(st.just("duplicate"), st.integers(0, 30)),
    st.tuples(st.just("conflict"), st.integers(0, 30)),
    st.just(("malformed",)),
)


class StrictSnapshot(Snapshot):
    """Every row, history rows numbered per record in the order written; nothing dropped."""

    def tables(self) -> dict:
        from django.apps import apps

        out = {}
        for app in ("billing", "partners", "exceptions"):
            for model in apps.get_app_config(app).get_models():
                rows = sorted(self._rows(model).items())
                content = [self.content(model, row) for _, row in rows]
                if getattr(model, "instance_type", None) is not None:
                    seen: dict[str, int] = {}
                    numbered = []
                    for row in content:
                        record = repr(row["id"])
                        seen[record] = seen.get(record, -1) + 1
                        numbered.append((row["id"], seen[record], row))
                    content = numbered
                out[model._meta.label] = sorted(content, key=repr)
        return out


def run(bodies, actor, *, fast: bool) -> dict:
    taken = {"fast": 0, "fast_types": set()}
    real = fast_one.event_ingest_fast

    def spy(**kwargs):
        outcome = real(**kwargs) if fast else None
        taken["fast"] += outcome is not None
        if outcome is not None:
            taken["fast_types"].add((kwargs["envelope"].type, outcome.status))
        return outcome

    with transaction.atomic(), mock.patch.object(fast_one, "event_ingest_fast", spy):
        answers = one_by_one(bodies, actor)
        taken.update(answers=_scrub(answers), tables=StrictSnapshot().tables())
        transaction.set_rollback(True)
    return taken


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=3, max_size=14))
@example(
    steps=[
        ("new", "usage.recorded", {"usage_id": "use_1", "subscription_id": "sub_x"}, "US01"),
        ("duplicate", 0),
        ("conflict", 0),
        ("new", "usage.recorded", {"usage_id": "use_1", "subscription_id": "sub_x"}, "US01"),
        ("new", "usage.recorded", {"usage_id": "use_2", "subscription_id": "sub_x"}, "ZZ01"),
        ("new", "subscription.cancelled", {"subscription_id": "sub_x"}, "US01"),
        ("new", "usage.recorded", {"usage_id": "use_3", "subscription_id": "sub_x"}, "US01"),
    ]
)
@example(
    steps=[
        ("new", "usage.recorded", {"usage_id": "use_1"}, "US01"),  # evt_0
        ("new", "usage.recorded", {"usage_id": "use_2"}, "US01"),  # evt_1 to evt_3: the world's
        ("new", "usage.recorded", {"usage_id": "use_3"}, "US01"),
        ("new", "usage.recorded", {"usage_id": "use_4"}, "US01"),
        # a payment of an invoice not yet issued: it waits for inv_a
        ("new", "payment.settled", {**PAY, "invoice_id": "inv_a"}, "US01"),
        _issue("inv_a", "cus_x", subscription_id="sub_x"),
        ("duplicate", 5),
        ("conflict", 5),
        _issue("inv_a", "cus_z"),
        _issue("inv_b", "cus_y"),
        _issue("inv_b", "cus_z", issue_date=CLOSED),
        _issue("inv_b", "cus_z", subscription_id="sub_nope"),
        _issue("inv_b", "cus_z", entity="ZZ01"),
        _issue("inv_b", "cus_z"),
    ]
)
@example(
    steps=[
        *[("new", "usage.recorded", {"usage_id": f"use_{n}"}, "US01") for n in range(4)],
        # on account: inv_y (due first) then inv_x; named; over-paid; taken; closed period
        ("new", "payment.settled", {**PAY, "amount": "100.00"}, "US01"),
        ("new", "payment.settled", {**PAY, "payment_id": "pay_b", "invoice_id": "inv_x"}, "US01"),
        ("duplicate", 5),
        ("conflict", 6),
        ("new", "payment.settled", {**PAY, "payment_id": "pay_c", "amount": "250.00"}, "US01"),
        ("new", "payment.settled", {**PAY, "payment_id": "pay_c"}, "US01"),
        ("new", "payment.settled", {**PAY, "payment_id": "pay_d", "customer_id": "cus_z",
                                    "invoice_id": "inv_x"}, "US01"),
        ("new", "payment.settled", {**PAY, "payment_id": "pay_d", "currency": "EUR",
                                    "invoice_id": "inv_x"}, "US01"),
        ("new", "payment.settled", {**PAY, "payment_id": "pay_d",
                                    "received_at": "2026-01-15T00:00:00Z"}, "US01"),
        # an invoice issued on the fast path, then paid on account
        _issue("inv_c", "cus_z"),
        ("new", "payment.settled", {**PAY, "payment_id": "pay_d", "customer_id": "cus_z",
                                    "amount": "250.00"}, "US01"),
        ("new", "payment.settled", {**PAY, "payment_id": "pay_e", "customer_id": "cus_y",
                                    "currency": "EUR"}, "US01"),
    ]
)  # fmt: skip
def test_fast_and_slow_one_event_paths_leave_the_same_rows_history_and_answers(
    world_two_invoices, actor, steps
):
    bodies = bodies_of(steps)
    if not bodies:
        return
    fast = run(bodies, actor, fast=True)
    slow = run(bodies, actor, fast=False)
    event(f"fast path took {min(fast['fast'], 3)}+ events" if fast["fast"] else "no fast event")
    for kind, status in sorted(fast["fast_types"]):
        event(f"fast path answered {status} to {kind}")
    assert slow["fast"] == 0
    assert fast["answers"] == slow["answers"]
    assert fast["tables"] == slow["tables"]


def test_fast_path_takes_an_applicable_usage_event(world_two_invoices, actor):
    bodies = bodies_of([("new", "usage.recorded", {"usage_id": "use_9"}, "US01")])
    taken = run(bodies, actor, fast=True)
    assert taken["fast"] == 1
    assert taken["answers"][0]["status"] == 202
    history = taken["tables"]["billing.HistoricalFinanceEvent"]
    rows = [row for _, _, row in history if row["event_id"] == "evt_0"]
    assert [(row["history_type"], row["state"]) for row in rows] == [
        ("+", "received"),
        ("~", "applied"),
    ]


def test_fast_path_takes_an_applicable_invoice_with_its_lines(world_two_invoices, actor):
    data = _invoice("inv_9", "cus_x", [("100.00", "19.00"), ("30.00", "0.00")], OPEN, "USD", None)
    taken = run(bodies_of([("new", "invoice.issued", data, "US01")]), actor, fast=True)
    assert taken["fast"] == 1
    assert taken["answers"][0]["records"] == {"invoice": "inv_9"}
    lines = taken["tables"]["billing.InvoiceLine"]
    assert sorted((row["line_id"], row["amount"], row["tax_amount"]) for row in lines if
                  row["invoice"][0] == "inv_9") == [
        ("l0", Decimal("100.00"), Decimal("19.00")),
        ("l1", Decimal("30.00"), Decimal("0.00")),
    ]  # fmt: skip
    history = taken["tables"]["billing.HistoricalInvoice"]
    rows = [row for _, _, row in history if row["invoice_id"] == "inv_9"]
    assert [(row["history_type"], row["total_amount"]) for row in rows] == [
        ("+", Decimal("149.00"))
    ]


def test_fast_path_takes_a_payment_on_account_oldest_invoice_first(world_two_invoices, actor):
    data = {**PAY, "amount": "100.00"}
    taken = run(bodies_of([("new", "payment.settled", data, "US01")]), actor, fast=True)
    assert taken["fast"] == 1
    assert taken["answers"][0]["records"] == {
        "payment": "pay_a",
        "allocations": {"inv_y": "60.00", "inv_x": "40.00"},
        "unallocated": "0.00",
    }
    history = taken["tables"]["billing.HistoricalInvoice"]
    changed = sorted(
        (row["invoice_id"], row["state"], row["paid_amount"])
        for _, n, row in history
        if row["history_type"] == "~"
    )
    assert changed == [
        ("inv_x", "partially_paid", Decimal("40.00")),
        ("inv_y", "paid", Decimal("60.00")),
    ]
