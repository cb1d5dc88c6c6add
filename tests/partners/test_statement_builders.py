"""Builders shared by the statement, portal and console tests (no tests here).

`two_months` gives a partner whose April settlement (one 200.00 line) was approved and paid,
and whose May settlement holds a clawback of that April line (a credit note after payout),
two tiered add-on lines and the whole-volume true-up: total 140.00 USD.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from partners.services import settlements as svc
from tests.partners import factories as f

TIERS = [
    {"lower_amount": "0", "upper_amount": "1000", "rate_percent": "10"},
    {"lower_amount": "1000", "upper_amount": None, "rate_percent": "20"},
]
RULES = [
    f.rule("platform-20", rate_percent="20", product_families=["platform"]),
    f.rule("addon-tiers", "tiered", tiers=TIERS, product_families=["addons"]),
]


def settle(seller, day: dt.date, prepare, approve, *, pay=False):
    settlement = svc.settlement_open(partner=seller, on=day, currency="USD", actor=prepare)
    settlement = svc.settlement_calculate(settlement=settlement, actor=prepare)
    svc.settlement_submit(settlement=settlement, actor=prepare)
    settlement = svc.settlement_approve(settlement=settlement, actor=approve)
    if pay:
        settlement = svc.settlement_mark_paid(settlement=settlement, actor=prepare, reference="P1")
    return settlement


def two_months(alice, bob, *, approve_may=True) -> SimpleNamespace:
    seller = f.partner()
    agreement = f.agreement(of=seller, rules=RULES)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    april_invoice = f.invoice(sub=sub, on="2026-04-02", lines=[f.line("1000.00", line_id="L1")])
    april = settle(seller, dt.date(2026, 4, 1), alice, bob, pay=True)

    f.credit_note(of=april_invoice, on="2026-05-06", lines=[f.line("500.00", line_id="L1")])
    f.invoice(sub=sub, on="2026-05-07", lines=[f.line("600.00", family="addons")])
    f.invoice(sub=sub, on="2026-05-09", lines=[f.line("600.00", family="addons")])
    may = svc.settlement_open(partner=seller, on=dt.date(2026, 5, 1), currency="USD", actor=alice)
    may = svc.settlement_calculate(settlement=may, actor=alice)
    if approve_may:
        svc.settlement_submit(settlement=may, actor=alice)
        may = svc.settlement_approve(settlement=may, actor=bob)
    return SimpleNamespace(seller=seller, agreement=agreement, sub=sub, april=april, may=may)


def calculated(alice, *, seller=None, amount="1000.00", day="2026-04-02"):
    """A partner's calculated April settlement (20% of `amount`)."""
    seller = seller or f.partner()
    f.agreement(of=seller, rules=[f.rule(rate_percent="20")])
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on=day, lines=[f.line(amount)])
    settlement = svc.settlement_open(
        partner=seller, on=dt.date.fromisoformat(day), currency="USD", actor=alice
    )
    return svc.settlement_calculate(settlement=settlement, actor=alice)
