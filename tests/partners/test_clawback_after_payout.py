"""A credit note in a later period, after the settlement was paid: its clawback lands in the
next settlement as its own line, referring to the original statement line."""

import datetime as dt
from decimal import Decimal

import pytest

from partners.choices import SettlementLineKind, SettlementState
from partners.models import SettlementLine
from partners.services import settlements as svc
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def _settle(seller, day, alice, bob, *, pay=True):
    settlement = svc.settlement_open(partner=seller, on=day, currency="USD", actor=alice)
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    svc.settlement_submit(settlement=settlement, actor=alice)
    settlement = svc.settlement_approve(settlement=settlement, actor=bob)
    if pay:
        settlement = svc.settlement_mark_paid(settlement=settlement, actor=alice, reference="PO-1")
    return settlement


def test_credit_note_after_payout_lands_in_next_settlement_referring_to_original_line(channel):
    alice, bob = channel
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    inv = f.invoice(sub=sub, on="2026-04-02", lines=[f.line("1000.00", line_id="L1")])
    april = _settle(seller, dt.date(2026, 4, 1), alice, bob)
    assert (april.state, april.total_amount) == (SettlementState.PAID, Decimal("200.00"))
    original = april.lines.get()

    f.credit_note(of=inv, on="2026-05-06", lines=[f.line("500.00", line_id="L1")])
    f.invoice(sub=sub, on="2026-05-07", lines=[f.line("100.00")])
    may = svc.settlement_open(partner=seller, on=dt.date(2026, 5, 1), currency="USD", actor=alice)
    may = svc.settlement_calculate(settlement=may, actor=alice)

    clawback = may.lines.get(kind=SettlementLineKind.CLAWBACK)
    assert clawback.amount == Decimal("-100.00")
    assert clawback.refers_to == original
    assert may.total_amount == Decimal("-80.00")  # shown, not netted into April
    april.refresh_from_db()
    assert april.total_amount == Decimal("200.00")
    assert april.lines.get() == original  # the paid statement is untouched

    # Recalculating never subtracts it twice.
    may = svc.settlement_calculate(settlement=may, actor=alice)
    assert SettlementLine.objects.filter(kind=SettlementLineKind.CLAWBACK).count() == 1
    assert may.total_amount == Decimal("-80.00")


def test_clawback_dated_in_a_paid_period_goes_to_the_next_open_settlement(channel):
    alice, bob = channel
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    inv = f.invoice(sub=sub, on="2026-04-02", lines=[f.line("1000.00", line_id="L1")])
    april = _settle(seller, dt.date(2026, 4, 1), alice, bob)
    # A credit note dated in April arrives after April was paid.
    f.credit_note(of=inv, on="2026-04-28", lines=[f.line("1000.00", line_id="L1")])
    f.recompute("2026-04-01", seller=seller)

    may = svc.settlement_open(partner=seller, on=dt.date(2026, 5, 1), currency="USD", actor=alice)
    may = svc.settlement_calculate(settlement=may, actor=alice)

    line = may.lines.get()
    assert (line.kind, line.amount) == (SettlementLineKind.CLAWBACK, Decimal("-200.00"))
    assert line.refers_to == april.lines.get()
