"""Credit notes and write-offs take back what their source accrued, never more."""

from decimal import Decimal

import pytest

from partners.choices import AccrualSource
from partners.models import Accrual
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def _sold(amounts=("1000.00",)):
    seller = f.partner()
    f.agreement(of=seller, rules=[f.rule(rate_percent="20")])
    sub = f.subscription(buyer=f.customer(), seller=seller)
    lines = [f.line(amount, line_id=f"L{n}") for n, amount in enumerate(amounts, start=1)]
    return f.invoice(sub=sub, on="2026-04-02", lines=lines)


def test_credit_note_line_takes_back_its_share_of_the_matching_line_with_negative_sign():
    inv = _sold(("1000.00", "500.00"))
    note = f.credit_note(of=inv, on="2026-04-09", lines=[f.line("250.00", line_id="L2")])

    f.recompute("2026-04-01")

    clawback = Accrual.objects.get(source_kind=AccrualSource.CREDIT_LINE)
    assert clawback.amount == Decimal("-50.00")  # half of line 2's 100.00
    assert clawback.basis_amount == Decimal("-250.00")
    assert clawback.clawback_of.source_ref == f"{inv.invoice_id} line 2"
    assert note.credit_note_id in clawback.explanation


def test_credit_note_then_write_off_of_the_rest_take_back_exactly_what_was_accrued():
    inv = _sold()
    f.credit_note(of=inv, on="2026-04-09", lines=[f.line("600.00")])
    f.write_off(of=inv, on="2026-04-20", amount="400.00")

    f.recompute("2026-04-01")

    kinds = dict(
        Accrual.objects.exclude(source_kind=AccrualSource.INVOICE_LINE).values_list(
            "source_kind", "amount"
        )
    )
    assert kinds == {
        AccrualSource.CREDIT_LINE: Decimal("-120.00"),
        AccrualSource.WRITE_OFF: Decimal("-80.00"),
    }
    assert sum(a.amount for a in Accrual.objects.all()) == 0


def test_clawback_in_later_period_is_capped_by_what_is_left_of_the_source():
    inv = _sold(("0.03",))
    f.credit_note(of=inv, on="2026-04-09", lines=[f.line("0.02")])  # 2/3 of 0.01 → 0.01
    f.write_off(of=inv, on="2026-05-02", amount="0.01")  # 1/3 → 0.00 (nothing left anyway)
    f.recompute("2026-04-01")
    f.recompute("2026-05-01")

    source = Accrual.objects.get(source_kind=AccrualSource.INVOICE_LINE)
    taken = sum(c.amount for c in source.clawbacks.all())
    assert source.amount == Decimal("0.01")
    assert -taken <= source.amount
    assert sum(a.amount for a in Accrual.objects.all()) >= 0


def test_last_of_several_partial_credits_takes_back_the_rounding_left():
    inv = _sold(("0.50",))  # accrues 0.10
    for day in ("2026-04-05", "2026-04-06", "2026-04-07"):
        # 34%, 34%, 32% of the line: 0.034 → 0.03, 0.03, 0.032 → 0.03 would keep 0.01;
        # the credit that uses the line up takes the 0.04 left.
        amount = "0.17" if day != "2026-04-07" else "0.16"
        f.credit_note(of=inv, on=day, lines=[f.line(amount, line_id="L1")])

    f.recompute("2026-04-01")

    taken = [a.amount for a in Accrual.objects.filter(source_kind=AccrualSource.CREDIT_LINE)]
    assert taken == [Decimal("-0.03"), Decimal("-0.03"), Decimal("-0.04")]
    assert sum(a.amount for a in Accrual.objects.all()) == 0
