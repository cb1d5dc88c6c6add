"""Reversals re-rate what tier true-ups, rebates, caps and floors earned on the revenue they
reverse: after payout the clawback lands in the next settlement as its own line referring to
the original line, never more than its source (partners.services.rerate)."""

import datetime as dt
from decimal import Decimal

import pytest

from partners.choices import AccrualSource, SettlementLineKind
from partners.models import Accrual
from partners.services import settlements as svc
from tests.partners import factories as f

pytestmark = pytest.mark.django_db

TIERS = [
    {"lower_amount": "0", "upper_amount": "1000", "rate_percent": "10"},
    {"lower_amount": "1000", "upper_amount": None, "rate_percent": "20"},
]
APRIL, MAY = dt.date(2026, 4, 1), dt.date(2026, 5, 1)


def _settle(seller, day, alice, bob):
    settlement = svc.settlement_open(partner=seller, on=day, currency="USD", actor=alice)
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    svc.settlement_submit(settlement=settlement, actor=alice)
    settlement = svc.settlement_approve(settlement=settlement, actor=bob)
    return svc.settlement_mark_paid(settlement=settlement, actor=alice, reference="PO-1")


def _calculate(seller, day, alice):
    settlement = svc.settlement_open(partner=seller, on=day, currency="USD", actor=alice)
    return svc.settlement_calculate(settlement=settlement, actor=alice)


def _seller(rules, *, tier_mode="whole_volume"):
    seller = f.partner()
    f.agreement(of=seller, rules=rules, tier_mode=tier_mode)
    return seller, f.subscription(buyer=f.customer(), seller=seller)


def _total() -> Decimal:
    return sum((a.amount for a in Accrual.objects.all()), Decimal(0))


def test_credit_after_payout_claws_back_the_true_up_and_rerates_the_later_line(channel):
    alice, bob = channel
    seller, sub = _seller([f.rule("tiers", "tiered", tiers=TIERS)])
    first = f.invoice(sub=sub, on="2026-04-05", lines=[f.line("600.00", line_id="L1")])
    f.invoice(sub=sub, on="2026-04-10", lines=[f.line("600.00")])
    april = _settle(seller, APRIL, alice, bob)
    assert april.total_amount == Decimal("240.00")  # 20% of 1,200.00 (60 + 120 + 60 true-up)
    true_up_line = april.lines.get(kind=SettlementLineKind.TRUE_UP)

    f.credit_note(of=first, on="2026-05-06", lines=[f.line("600.00", line_id="L1")])
    may = _calculate(seller, MAY, alice)

    # April keeps 600.00 of volume: 10% = 60.00. The credit takes the first line's 60.00,
    # the true-up's 60.00 and 60.00 of the second line rated at 20%.
    assert may.total_amount == Decimal("-180.00")
    lines = {(x.refers_to.source_ref, x.amount) for x in may.lines.all()}
    assert len(lines) == 3
    on_true_up = may.lines.get(refers_to=true_up_line)
    assert (on_true_up.kind, on_true_up.amount) == (SettlementLineKind.CLAWBACK, Decimal("-60"))
    assert "re-rate" in on_true_up.explanation and "600.00" in on_true_up.explanation
    assert _total() == Decimal("60.00")
    # Recalculating changes nothing.
    assert f.recompute(MAY).created == 0
    may = svc.settlement_calculate(settlement=may, actor=alice)
    assert may.total_amount == Decimal("-180.00")


def test_partial_credit_within_the_band_takes_the_true_up_share_only():
    _, sub = _seller([f.rule("tiers", "tiered", tiers=TIERS)])
    first = f.invoice(sub=sub, on="2026-04-05", lines=[f.line("600.00", line_id="L1")])
    f.invoice(sub=sub, on="2026-04-10", lines=[f.line("600.00")])
    f.credit_note(of=first, on="2026-04-20", lines=[f.line("100.00", line_id="L1")])

    f.recompute(APRIL)

    # 1,100.00 kept stays in the 20% band: 220.00. The line gives back 10.00 at its 10%,
    # the true-up the other 10.00 the lost volume earned at the period's rate.
    assert _total() == Decimal("220.00")
    rerate = Accrual.objects.get(source_key__contains=">rerate:")
    assert rerate.clawback_of.source_kind == AccrualSource.PERIOD
    assert rerate.amount == Decimal("-10.00")


def test_marginal_tiers_rerate_the_band_the_reversed_volume_pushed_up():
    _, sub = _seller([f.rule("tiers", "tiered", tiers=TIERS)], tier_mode="marginal")
    first = f.invoice(sub=sub, on="2026-04-05", lines=[f.line("600.00", line_id="L1")])
    f.invoice(sub=sub, on="2026-04-10", lines=[f.line("600.00")])
    f.recompute(APRIL)
    assert _total() == Decimal("140.00")

    f.credit_note(of=first, on="2026-05-06", lines=[f.line("600.00", line_id="L1")])
    f.recompute(MAY)

    assert _total() == Decimal("60.00")  # 600.00 kept, all in the 10% band
    assert Accrual.objects.get(source_key__contains=">rerate:").amount == Decimal("-20.00")


def test_credit_under_the_rebate_threshold_claws_back_the_whole_rebate(channel):
    alice, bob = channel
    rules = [
        f.rule(rate_percent="10"),
        f.rule("rebate", "rebate", rate_percent="2", threshold_amount="1500"),
    ]
    seller, sub = _seller(rules)
    first = f.invoice(sub=sub, on="2026-04-05", lines=[f.line("1000.00", line_id="L1")])
    f.invoice(sub=sub, on="2026-04-10", lines=[f.line("1000.00")])
    april = _settle(seller, APRIL, alice, bob)
    assert april.total_amount == Decimal("240.00")  # 200.00 + 2% of 2,000.00
    rebate_line = april.lines.get(accrual__rule__kind="rebate")

    f.credit_note(of=first, on="2026-05-06", lines=[f.line("400.00", line_id="L1")])
    may = _calculate(seller, MAY, alice)

    # 1,600.00 kept is still over 1,500.00: the rebate gives back 2% of the 400.00.
    assert may.lines.get(refers_to=rebate_line).amount == Decimal("-8.00")
    f.credit_note(of=first, on="2026-05-07", lines=[f.line("200.00", line_id="L1")])
    may = _calculate(seller, MAY, alice)
    # 1,400.00 kept is under the threshold: the rest of the rebate goes, never more.
    back = sorted(x.amount for x in may.lines.filter(refers_to=rebate_line))
    assert back == [Decimal("-32.00"), Decimal("-8.00")]
    assert may.total_amount == Decimal("-100.00")  # -40 -20 on the line, -40 of the rebate
    assert _total() == Decimal("140.00")


def test_credit_after_a_capped_period_releases_the_cap_share(channel):
    alice, bob = channel
    seller, sub = _seller([f.rule(rate_percent="20"), f.rule("cap", "cap", cap_amount="300")])
    first = f.invoice(sub=sub, on="2026-04-05", lines=[f.line("1000.00", line_id="L1")])
    f.invoice(sub=sub, on="2026-04-10", lines=[f.line("1000.00")])
    april = _settle(seller, APRIL, alice, bob)
    assert april.total_amount == Decimal("300.00")
    cap_line = april.lines.get(kind=SettlementLineKind.TRUE_UP)

    f.credit_note(of=first, on="2026-05-06", lines=[f.line("1000.00", line_id="L1")])
    may = _calculate(seller, MAY, alice)

    # April keeps 1,000.00: 200.00 is under the cap. The line gives back 200.00; the cap's
    # -100.00 is released: the partner returns the 100.00 it was paid on that revenue.
    release = may.lines.get(refers_to=cap_line)
    assert (release.kind, release.amount) == (SettlementLineKind.CLAWBACK, Decimal("100.00"))
    assert "cap re-rate" in release.explanation
    assert may.total_amount == Decimal("-100.00")
    assert _total() == Decimal("200.00")


def test_floor_top_up_is_clawed_back_only_once_nothing_is_kept():
    rules = [f.rule(rate_percent="20"), f.rule("cap", "cap", cap_amount="300", floor_amount="50")]
    _, sub = _seller(rules)
    inv = f.invoice(sub=sub, on="2026-04-05", lines=[f.line("100.00", line_id="L1")])
    f.recompute(APRIL)
    assert _total() == Decimal("50.00")  # 20.00 + 30.00 floor

    f.credit_note(of=inv, on="2026-05-06", lines=[f.line("50.00", line_id="L1")])
    f.recompute(MAY)
    assert _total() == Decimal("40.00")  # the floor is not raised by a credit
    assert not Accrual.objects.filter(source_key__contains=">cap:").exists()

    f.credit_note(of=inv, on="2026-05-07", lines=[f.line("50.00", line_id="L1")])
    f.recompute(MAY)
    assert _total() == Decimal("0.00")
    assert Accrual.objects.get(source_key__contains=">cap:").amount == Decimal("-30.00")
