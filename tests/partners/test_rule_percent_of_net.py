"""Percent of net invoiced revenue: one accrual per (line, rule), explained."""

from decimal import Decimal

import pytest

from partners.models import Accrual
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def test_recompute_percent_rule_accrues_rate_of_net_with_explanation():
    seller = f.partner()
    f.agreement(of=seller, rules=[f.rule("platform-20", rate_percent="20")])
    sub = f.subscription(buyer=f.customer(), seller=seller)
    inv = f.invoice(sub=sub, on="2026-04-10", lines=[f.line("1250.00", tax="100.00")])

    f.recompute("2026-04-01")

    accrual = Accrual.objects.get()
    assert accrual.amount == Decimal("250.00")
    assert accrual.basis_amount == Decimal("1250.00")
    assert accrual.rate == Decimal("20")
    expected = f"20% of 1,250.00 net on {inv.invoice_id} line 1, rule platform-20"
    assert accrual.explanation == expected
    assert accrual.history.count() == 1


def test_recompute_line_outside_family_filter_accrues_nothing():
    seller = f.partner()
    f.agreement(of=seller, rules=[f.rule(rate_percent="10", product_families=["analytics"])])
    sub = f.subscription(buyer=f.customer(), seller=seller)
    lines = [f.line("100.00"), f.line("50.00", family="analytics")]
    f.invoice(sub=sub, on="2026-04-10", lines=lines)

    f.recompute("2026-04-01")

    assert [a.amount for a in Accrual.objects.all()] == [Decimal("5.00")]


def test_recompute_twice_writes_nothing_the_second_time():
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-10", lines=[f.line("100.00"), f.line("33.33")])

    first = f.recompute("2026-04-01")
    second = f.recompute("2026-04-01")

    assert first.created == 2
    assert (second.created, second.updated, second.deleted, second.unchanged) == (0, 0, 0, 2)
    assert sum(a.history.count() for a in Accrual.objects.all()) == 2
