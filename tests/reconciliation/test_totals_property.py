"""Property: for random usage records and invoices (usage and other lines, inside and
outside the period, billed late, never billed), the usage scope's set-based statements find
the same breaks as a straightforward Python reference of the attribution rule.

Run on SQLite and on PostgreSQL (DATABASE_URL): both must agree with the same reference.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Invoice, InvoiceLine, UsageRecord
from reconciliation.choices import BreakKind, RunScope
from reconciliation.models import ReconciliationRun, TotalsRow
from reconciliation.services.totals_sql import totals_breaks_found, usage_totals_store
from tests.erp_sync.factories import FinanceEventFactory, SubscriptionFactory
from tests.reconciliation.factories import (
    MAY_END,
    MAY_START,
    ConnectionFactory,
    CustomerFactory,
    LegalEntityFactory,
)

pytestmark = pytest.mark.django_db
D = Decimal
TOLERANCE = D("0.01")
BASE = dt.date(2026, 3, 20)  # day 0 of the drawn dates (they reach into June)
SUBS = 3
_ids = itertools.count()

usage_spec = st.tuples(
    st.integers(0, SUBS - 1),  # subscription
    st.integers(0, 80),  # start, days after BASE
    st.integers(0, 35),  # length in days
    st.integers(0, 400),  # quantity
    st.sampled_from([D("0.01"), D("0.1"), D("0.015")]),  # unit price
)
line_spec = st.tuples(
    st.sampled_from(["usage", "platform"]),
    st.integers(0, 400),  # quantity
    st.integers(0, 500),  # amount in cents
)
invoice_spec = st.tuples(
    st.integers(0, SUBS - 1),
    st.integers(0, 95),  # issue day, days after BASE
    st.lists(line_spec, min_size=1, max_size=3),
)


def day(offset: int) -> dt.date:
    return BASE + dt.timedelta(days=offset)


def reference(usages: list, invoices: list) -> set[tuple[str, int]]:
    """(kind, subscription index) of every break of the May run, the obvious way."""
    usage_days = {i: [] for i in range(SUBS)}  # issue days of invoices with a usage line
    actual = defaultdict(lambda: [0, D(0), D(0)])
    for sub, issue, lines in invoices:
        usage_lines = [x for x in lines if x[0] == "usage"]
        if usage_lines:
            usage_days[sub].append(day(issue))
        if MAY_START <= day(issue) <= MAY_END:
            for _, quantity, cents in usage_lines:
                totals = actual[sub]
                totals[0] += 1
                totals[1] += D(quantity)
                totals[2] += D(cents) / 100
    expected = defaultdict(lambda: [0, D(0), D(0)])
    for sub, start, length, quantity, price in usages:
        end = day(start + length)
        later = [d for d in usage_days[sub] if d > end]
        if later:
            counted = MAY_START <= min(later) <= MAY_END
        else:
            counted = MAY_START - dt.timedelta(days=1) <= end <= MAY_END - dt.timedelta(days=1)
        if counted:
            totals = expected[sub]
            totals[0] += 1
            totals[1] += D(quantity)
            totals[2] += (D(quantity) * price).quantize(D("0.01"))
    found = set()
    for sub in set(expected) | set(actual):
        e, a = expected.get(sub, [0, D(0), D(0)]), actual.get(sub, [0, D(0), D(0)])
        if e[0] == 0:
            found.add((BreakKind.USAGE_NOT_RECORDED, sub))
        elif a[0] == 0:
            found.add((BreakKind.USAGE_NOT_INVOICED, sub))
        elif e[1] != a[1]:
            found.add((BreakKind.QUANTITY_MISMATCH, sub))
        elif abs(a[2] - e[2]) > TOLERANCE:
            found.add((BreakKind.AMOUNT_MISMATCH, sub))
    return found


def engine(usages: list, invoices: list) -> set[tuple[str, int]]:
    entity = LegalEntityFactory(code="US01")
    customer = CustomerFactory(entity=entity)
    subs = [SubscriptionFactory(customer=customer) for _ in range(SUBS)]
    event = FinanceEventFactory()
    UsageRecord.objects.bulk_create(
        UsageRecord(
            usage_id=f"u{next(_ids)}",
            subscription=subs[sub],
            meter="api_calls",
            quantity=D(quantity),
            unit_price=price,
            amount=(D(quantity) * price).quantize(D("0.01")),
            currency="USD",
            period_start=day(start),
            period_end=day(start + length),
            event=event,
        )
        for sub, start, length, quantity, price in usages
    )
    for sub, issue, lines in invoices:
        subtotal = sum((D(cents) / 100 for _, _, cents in lines), D(0))
        invoice = Invoice.objects.create(
            invoice_id=f"i{next(_ids)}", entity=entity, customer=customer,
            subscription=subs[sub], issue_date=day(issue), due_date=day(issue),
            currency="USD", subtotal_amount=subtotal, tax_amount=D(0), total_amount=subtotal,
            event=event,
        )  # fmt: skip
        InvoiceLine.objects.bulk_create(
            InvoiceLine(
                invoice=invoice,
                line_id=str(n),
                description="x",
                product_family=family,
                quantity=D(quantity),
                unit_price=D(0),
                amount=D(cents) / 100,
                tax_amount=D(0),
            )
            for n, (family, quantity, cents) in enumerate(lines)
        )
    run = ReconciliationRun.objects.create(
        entity=entity, connection=ConnectionFactory(entity=entity), period_start=MAY_START,
        period_end=MAY_END, scope=RunScope.USAGE, state="running",
    )  # fmt: skip
    usage_totals_store(run)
    rows = TotalsRow.objects.in_bulk()
    index = {s.subscription_id: i for i, s in enumerate(subs)}
    return {(kind, index[rows[row_id].subject]) for kind, row_id in totals_breaks_found(run)}


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(usage_spec, max_size=8), st.lists(invoice_spec, max_size=6))
def test_usage_totals_equal_python_reference(usages, invoices):
    with transaction.atomic():
        got = engine(usages, invoices)
        transaction.set_rollback(True)

    assert got == reference(usages, invoices)
