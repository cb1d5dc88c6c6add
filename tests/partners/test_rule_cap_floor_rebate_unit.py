"""Cap and floor per period, the rebate over a threshold, a fixed amount per unit."""

from decimal import Decimal

import pytest

from partners.choices import AccrualSource
from partners.models import Accrual
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def _period_total() -> Decimal:
    return sum((a.amount for a in Accrual.objects.all()), Decimal(0))


def _seller_with(rules, *amounts):
    seller = f.partner()
    f.agreement(of=seller, rules=rules)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    for day, amount in enumerate(amounts, start=1):
        f.invoice(sub=sub, on=f"2026-04-{day:02d}", lines=[f.line(amount)])
    f.recompute("2026-04-01")
    return seller


def test_cap_reduces_the_period_total_to_the_cap():
    _seller_with(
        [f.rule(rate_percent="20"), f.rule("cap", "cap", cap_amount="300")], "1000.00", "1000.00"
    )

    cap = Accrual.objects.get(source_kind=AccrualSource.PERIOD)
    assert cap.amount == Decimal("-100.00")
    assert _period_total() == Decimal("300.00")
    assert "above the cap 300.00" in cap.explanation


def test_floor_raises_a_small_period_total_to_the_floor():
    _seller_with(
        [f.rule(rate_percent="20"), f.rule("cap", "cap", cap_amount="300", floor_amount="50")],
        "100.00",
    )

    assert _period_total() == Decimal("50.00")


def test_total_between_floor_and_cap_is_left_alone():
    _seller_with(
        [f.rule(rate_percent="20"), f.rule("cap", "cap", cap_amount="300", floor_amount="50")],
        "1000.00",
    )

    assert not Accrual.objects.filter(source_kind=AccrualSource.PERIOD).exists()
    assert _period_total() == Decimal("200.00")


def test_rebate_pays_extra_percent_only_once_volume_passes_threshold():
    rules = [
        f.rule(rate_percent="10"),
        f.rule("rebate", "rebate", rate_percent="2", threshold_amount="1500"),
    ]
    _seller_with(rules, "1000.00")
    assert not Accrual.objects.filter(source_kind=AccrualSource.PERIOD).exists()

    _seller_with(rules, "1000.00", "1000.00")
    rebate = Accrual.objects.get(source_kind=AccrualSource.PERIOD)
    assert rebate.amount == Decimal("40.00")  # 2% of the period's 2,000.00
    assert "passed 1,500.00" in rebate.explanation


def test_per_unit_pays_fixed_amount_per_unit_of_its_family_only():
    seller = f.partner()
    f.agreement(
        of=seller,
        rules=[f.rule("seats", "per_unit", unit_amount="12.50", product_families=["seats"])],
    )
    sub = f.subscription(buyer=f.customer(), seller=seller)
    lines = [f.line("500.00", family="seats", quantity="4"), f.line("100.00")]
    f.invoice(sub=sub, on="2026-04-03", lines=lines)

    f.recompute("2026-04-01")

    accrual = Accrual.objects.get()
    assert accrual.amount == Decimal("50.00")
    assert accrual.rate == Decimal("12.50")
    assert "12.50 per unit × 4 units of seats" in accrual.explanation
