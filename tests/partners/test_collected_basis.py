"""Collected basis: cash allocated to the invoice earns in proportion; a refund takes back
its share of the payment it refunds."""

from decimal import Decimal

import pytest

from partners.choices import AccrualSource
from partners.models import Accrual
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def test_two_partial_payments_and_a_refund_accrue_in_proportion_to_cash_kept():
    seller = f.partner()
    f.agreement(of=seller, rules=[f.rule("cash-10", rate_percent="10")], basis="collected")
    sub = f.subscription(buyer=f.customer(), seller=seller)
    inv = f.invoice(sub=sub, on="2026-04-02", lines=[f.line("1000.00", tax="100.00")])
    f.recompute("2026-04-01")
    assert not Accrual.objects.exists()  # invoiced, nothing collected yet

    first = f.payment(of=inv, on="2026-04-20", amount="550.00")
    second = f.payment(of=inv, on="2026-05-03", amount="550.00")
    f.refund(of=second, on="2026-05-20", amount="275.00")
    f.recompute("2026-04-01")
    f.recompute("2026-05-01")

    april = Accrual.objects.get(period_start="2026-04-01")
    assert (april.basis_amount, april.amount) == (Decimal("500.00"), Decimal("50.00"))
    assert april.payment == first
    may = Accrual.objects.filter(period_start="2026-05-01").order_by("id")
    assert [(a.source_kind, a.amount) for a in may] == [
        (AccrualSource.PAYMENT, Decimal("50.00")),
        (AccrualSource.REFUND, Decimal("-25.00")),
    ]
    assert may[1].clawback_of == may[0]
    # 10% of the net share of the 825.00 kept: 750.00.
    assert sum(a.amount for a in Accrual.objects.all()) == Decimal("75.00")


def test_credit_note_on_collected_basis_takes_nothing_back():
    seller = f.partner()
    f.agreement(of=seller, rules=[f.rule("cash-10", rate_percent="10")], basis="collected")
    sub = f.subscription(buyer=f.customer(), seller=seller)
    inv = f.invoice(sub=sub, on="2026-04-02", lines=[f.line("1000.00")])
    f.payment(of=inv, on="2026-04-05", amount="400.00")
    f.credit_note(of=inv, on="2026-04-06", lines=[f.line("600.00")])

    f.recompute("2026-04-01")

    assert [a.amount for a in Accrual.objects.all()] == [Decimal("40.00")]
