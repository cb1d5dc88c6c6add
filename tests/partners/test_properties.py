"""Properties of the engine and the settlements over random histories (hypothesis).

A random sequence of invoices, credit notes, payments, refunds and write-offs over three
months, with some months settled and paid before later reversals arrive, must leave:
every settlement total = Σ its lines to the cent; no clawback larger than its source; a
second recompute writing nothing; every amount a Decimal in the settlement currency; and
the partner paid no more than its rate of the revenue that was kept (a fully reversed
invoice or payment earning nothing at all).
"""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from billing.models import Invoice, Payment, PaymentAllocation
from config.money import is_quantized
from partners.models import Accrual, Settlement, SettlementLine
from partners.services import settlements as svc
from tests.partners import factories as f

RATE = Decimal("12.5")
CENT = Decimal("0.01")
MONTHS = (dt.date(2026, 4, 1), dt.date(2026, 5, 1), dt.date(2026, 6, 1))


class Rollback(Exception):
    pass


cents = st.integers(min_value=1, max_value=500_000).map(lambda n: Decimal(n) / 100)
operation = st.one_of(
    st.tuples(st.just("invoice"), st.lists(cents, min_size=1, max_size=3)),
    st.tuples(st.just("credit"), st.integers(0, 9), st.floats(0.05, 1.0)),
    st.tuples(st.just("pay"), st.integers(0, 9), st.floats(0.05, 1.0)),
    st.tuples(st.just("refund"), st.integers(0, 9), st.floats(0.05, 1.0)),
    st.tuples(st.just("write_off"), st.integers(0, 9)),
)
month_plan = st.tuples(st.lists(operation, max_size=5), st.booleans())


def _part(amount: Decimal, share: float) -> Decimal:
    return max(CENT, (amount * Decimal(str(round(share, 2)))).quantize(CENT))


class History:
    """Applies operations through billing's ingest; skips those billing would refuse."""

    def __init__(self, sub):
        self.sub, self.invoices, self.payments = sub, [], []

    def apply(self, op, day: dt.date) -> None:
        on = day.isoformat()
        kind = op[0]
        if kind == "invoice":
            lines = [f.line(str(a), line_id=f"L{n}") for n, a in enumerate(op[1])]
            self.invoices.append(f.invoice(sub=self.sub, on=on, lines=lines))
            return
        if kind == "refund":
            if not self.payments:
                return
            payment = self.payments[op[1] % len(self.payments)]
            payment.refresh_from_db()
            left = payment.amount - payment.refunded_amount
            if left > 0:
                f.refund(of=payment, on=on, amount=str(min(left, _part(payment.amount, op[2]))))
            return
        if not self.invoices:
            return
        invoice = self.invoices[op[1] % len(self.invoices)]
        invoice.refresh_from_db()
        open_amount = invoice.open_amount
        if open_amount <= 0 or invoice.state not in ("issued", "partially_paid"):
            return
        if kind == "credit":
            amount = min(open_amount, _part(invoice.total_amount, op[2]))
            f.credit_note(of=invoice, on=on, lines=[f.line(str(amount), line_id="L0")])
        elif kind == "pay":
            amount = min(open_amount, _part(invoice.total_amount, op[2]))
            self.payments.append(f.payment(of=invoice, on=on, amount=str(amount)))
        else:
            f.write_off(of=invoice, on=on, amount=str(open_amount))


def _kept_revenue(basis: str) -> Decimal:
    if basis == "invoiced":
        kept = Decimal(0)
        for invoice in Invoice.objects.all():
            gone = invoice.credited_amount + invoice.written_off_amount
            kept += invoice.subtotal_amount - gone
        return kept
    kept = Decimal(0)
    for allocation in PaymentAllocation.objects.select_related("payment"):
        payment = allocation.payment
        kept += allocation.amount * (payment.amount - payment.refunded_amount) / payment.amount
    return kept


def _settle_all_open(seller, alice, bob) -> None:
    for month in MONTHS:
        settlement = svc.settlement_open(partner=seller, on=month, currency="USD", actor=alice)
        if settlement.state in ("draft", "calculated"):
            settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
            svc.settlement_submit(settlement=settlement, actor=alice)
            svc.settlement_approve(settlement=settlement, actor=bob)


def _check(seller, basis: str) -> None:
    accruals = list(Accrual.objects.all())
    for accrual in accruals:
        for value in (accrual.amount, accrual.basis_amount):
            assert isinstance(value, Decimal)
        assert accrual.currency == "USD" and is_quantized(accrual.amount, "USD")
        if accrual.clawback_of_id is None:
            taken = sum((c.amount for c in accrual.clawbacks.all()), Decimal(0))
            assert taken <= 0 and -taken <= accrual.amount
    for settlement in Settlement.objects.all():
        lines = list(settlement.lines.all())
        assert settlement.total_amount == sum((x.amount for x in lines), Decimal(0))
        assert all(is_quantized(x.amount, settlement.currency) for x in lines)
    # Every accrual is paid exactly once and the partner keeps no more than its rate of what
    # was kept (each accrual or clawback may round by half a cent).
    assert SettlementLine.objects.count() == len(accruals)
    paid = sum((s.total_amount for s in Settlement.objects.all()), Decimal(0))
    due = RATE * _kept_revenue(basis) / 100
    assert paid <= due + CENT * len(accruals)
    assert paid >= due - CENT * len(accruals)
    assert paid >= 0
    # A fully reversed invoice (invoiced basis) or payment (collected) earns exactly nothing.
    if basis == "invoiced":
        gone = [i for i in Invoice.objects.all() if i.open_amount == 0 and i.paid_amount == 0]
        for invoice in gone:
            assert sum(a.amount for a in accruals if a.invoice_id == invoice.pk) == 0
    else:
        for payment in Payment.objects.all():
            if payment.refunded_amount == payment.amount:
                assert sum(a.amount for a in accruals if a.payment_id == payment.pk) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("basis", ["invoiced", "collected"])
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plans=st.tuples(month_plan, month_plan, month_plan))
# Found by hypothesis: a credit line larger than the line it names, then a second credit
# naming the used-up line again, must still take back the other line's commission.
@example(
    plans=(
        ([("invoice", [Decimal("0.84"), Decimal("18.89")])], False),
        ([], False),
        ([("credit", 0, 0.7412959314909677), ("credit", 9, 0.3999304547222785)], False),
    )
)
# Three credits of a third each round down; the last must take back the cent left.
@example(
    plans=(
        ([("invoice", [Decimal("0.80")])], True),
        ([("credit", 0, 0.34), ("credit", 0, 0.33)], True),
        ([("credit", 0, 0.34)], False),
    )
)
# A credit note on one line, then the rest written off: nothing may be kept.
@example(
    plans=(
        ([("invoice", [Decimal("600.00"), Decimal("400.00")])], True),
        ([("credit", 0, 0.6)], True),
        ([("write_off", 0)], False),
    )
)
def test_random_history_never_pays_partner_for_revenue_not_kept(channel, basis, plans):
    alice, bob = channel
    try:
        with transaction.atomic():
            seller = f.partner()
            f.agreement(of=seller, rules=[f.rule("r", rate_percent=str(RATE))], basis=basis)
            history = History(f.subscription(buyer=f.customer(), seller=seller))
            for month, (ops, settle_now) in zip(MONTHS, plans, strict=True):
                for day, op in enumerate(ops, start=1):
                    history.apply(op, month.replace(day=day * 4))
                f.recompute(month)
                if settle_now:
                    settlement = svc.settlement_open(
                        partner=seller, on=month, currency="USD", actor=alice
                    )
                    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
                    svc.settlement_submit(settlement=settlement, actor=alice)
                    svc.settlement_approve(settlement=settlement, actor=bob)
                    svc.settlement_mark_paid(settlement=settlement, actor=alice, reference="x")
            again = [f.recompute(month) for month in MONTHS]
            assert all((c.created, c.updated, c.deleted) == (0, 0, 0) for c in again)
            _settle_all_open(seller, alice, bob)
            _check(seller, basis)
            raise Rollback
    except Rollback:
        pass
