"""Tiered percent by the period's cumulative volume: whole-volume (with a true-up) and
marginal per band, a tier crossed in the middle of the period."""

from decimal import Decimal

import pytest

from partners.choices import AccrualSource
from partners.models import Accrual
from tests.partners import factories as f

pytestmark = pytest.mark.django_db

TIERS = [
    {"lower_amount": "0", "upper_amount": "1000", "rate_percent": "10"},
    {"lower_amount": "1000", "upper_amount": None, "rate_percent": "20"},
]


def _sell(tier_mode: str):
    seller = f.partner()
    f.agreement(of=seller, rules=[f.rule("tiers", "tiered", tiers=TIERS)], tier_mode=tier_mode)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-05", lines=[f.line("600.00")])
    f.invoice(sub=sub, on="2026-04-10", lines=[f.line("600.00")])
    f.recompute("2026-04-01")


def test_whole_volume_tier_crossed_mid_period_rerates_earlier_lines_with_true_up():
    _sell("whole_volume")

    lines = Accrual.objects.filter(source_kind=AccrualSource.INVOICE_LINE).order_by("accrued_on")
    assert [(a.rate, a.amount) for a in lines] == [
        (Decimal("10"), Decimal("60.00")),
        (Decimal("20"), Decimal("120.00")),
    ]
    true_up = Accrual.objects.get(source_kind=AccrualSource.PERIOD)
    # 20% of the whole 1,200.00 is 240.00; the lines accrued 180.00.
    assert true_up.amount == Decimal("60.00")
    assert true_up.basis_amount == Decimal("1200.00")
    assert "true-up" in true_up.explanation and "1,200.00" in true_up.explanation
    assert sum(a.amount for a in Accrual.objects.all()) == Decimal("240.00")


def test_marginal_tiers_charge_each_band_at_its_rate_without_true_up():
    _sell("marginal")

    lines = Accrual.objects.order_by("accrued_on")
    # 600 at 10%; then 400 at 10% + 200 at 20% = 80.
    assert [a.amount for a in lines] == [Decimal("60.00"), Decimal("80.00")]
    assert not Accrual.objects.filter(source_kind=AccrualSource.PERIOD).exists()


def test_whole_volume_below_first_boundary_needs_no_true_up():
    seller = f.partner()
    f.agreement(of=seller, rules=[f.rule("tiers", "tiered", tiers=TIERS)])
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-05", lines=[f.line("999.99")])

    f.recompute("2026-04-01")

    assert [a.amount for a in Accrual.objects.all()] == [Decimal("100.00")]
