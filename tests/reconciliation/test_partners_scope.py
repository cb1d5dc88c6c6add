"""The partners scope: accruals vs settlement lines per partner, settlement period and
currency (a line counts in its accrual's period)."""

import datetime as dt
from decimal import Decimal

import pytest

from exceptions.models import Case
from partners.models import Accrual, Settlement, SettlementLine
from partners.services import settlements as svc
from reconciliation.choices import BreakKind, BreakState, RunScope, RunState
from reconciliation.models import Break, TotalsRow
from reconciliation.services.runs import run_execute, run_start
from tests.partners import factories as f
from tests.reconciliation.factories import MAY_END, MAY_START, ConnectionFactory

pytestmark = pytest.mark.django_db
D = Decimal
MAY = dt.date(2026, 5, 1)


def seller_with_invoice(amount: str, *, on="2026-05-10"):
    seller = f.partner()
    f.agreement(of=seller, rules=[f.rule(rate_percent="20")])
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on=on, lines=[f.line(amount)])
    return seller, sub


def calculated(seller, actor) -> Settlement:
    settlement = svc.settlement_open(partner=seller, on=MAY, currency="USD", actor=actor)
    return svc.settlement_calculate(settlement=settlement, actor=actor)


def run_partners(entity, actor):
    run = run_start(
        entity=entity, period_start=MAY_START, period_end=MAY_END, actor=actor,
        scope=RunScope.PARTNERS, today=dt.date(2026, 6, 3),
    )  # fmt: skip
    return run_execute(run_id=run.pk, actor=actor)


@pytest.fixture
def channel(db):
    f.entity()
    return f.user("cm-alice", "channel_manager"), f.user("cm-bob", "channel_manager")


@pytest.fixture
def world(channel):
    """Four partners of US01 for May: settled as accrued; accrued, never settled; an
    invoice after the statement was calculated (accrued 220, settled 200); and a statement
    line no accrual stands behind."""
    alice, _ = channel
    agreed, _ = seller_with_invoice("1000.00")
    calculated(agreed, alice)
    unsettled, _ = seller_with_invoice("500.00")
    late, late_sub = seller_with_invoice("1000.00")
    calculated(late, alice)
    f.invoice(sub=late_sub, on="2026-05-20", lines=[f.line("100.00")])
    orphan = f.partner()
    statement = Settlement.objects.create(
        partner=orphan, period_start=MAY, period_end=MAY_END, currency="USD",
        total_amount=D("75.00"),
    )  # fmt: skip
    SettlementLine.objects.create(
        settlement=statement, kind="accrual", source_ref="manual", explanation="typed in",
        amount=D("75.00"), currency="USD",
    )  # fmt: skip
    f.recompute("2026-05-01")
    entity = f.entity()
    ConnectionFactory(entity=entity)
    return entity, alice, {"agreed": agreed, "unsettled": unsettled, "late": late, "orphan": orphan}


def test_partners_run_finds_each_break_with_both_sides(world):
    entity, alice, sellers = world
    run = run_partners(entity, alice)

    assert run.state == RunState.COMPLETED, run.failure_reason
    assert (run.break_count, run.matched_count) == (3, 1)
    agreed = TotalsRow.objects.get(run=run, subject=sellers["agreed"].partner_id)
    assert (agreed.expected_amount, agreed.actual_amount) == (D("200.00"), D("200.00"))
    found = {b.kind: b for b in Break.objects.filter(scope=RunScope.PARTNERS)}
    assert set(found) == {
        BreakKind.ACCRUAL_NOT_SETTLED,
        BreakKind.AMOUNT_MISMATCH,
        BreakKind.SETTLED_NOT_ACCRUED,
    }
    unsettled = found[BreakKind.ACCRUAL_NOT_SETTLED]
    assert (unsettled.party_code, unsettled.billing_total_amount) == (
        sellers["unsettled"].partner_id,
        D("100.00"),
    )
    assert (unsettled.erp_total_amount, unsettled.difference_amount) == (None, D("-100.00"))
    late = found[BreakKind.AMOUNT_MISMATCH]
    assert late.party_code == sellers["late"].partner_id
    assert (late.billing_total_amount, late.erp_total_amount) == (D("220.00"), D("200.00"))
    assert late.difference_amount == D("-20.00")
    orphan = found[BreakKind.SETTLED_NOT_ACCRUED]
    assert (orphan.billing_total_amount, orphan.erp_total_amount) == (None, D("75.00"))
    orphan_id = sellers["orphan"].partner_id
    assert orphan.key == f"settled_not_accrued|partners:{orphan_id}|2026-05-01|USD"
    assert Case.objects.filter(kind__startswith="reconciliation_").count() == 3


def test_partners_rerun_is_idempotent_and_recalculating_resolves(world):
    entity, alice, sellers = world
    run_partners(entity, alice)
    first = set(Break.objects.values_list("pk", flat=True))

    run_partners(entity, alice)
    assert set(Break.objects.values_list("pk", flat=True)) == first

    late = Settlement.objects.get(partner=sellers["late"])
    svc.settlement_calculate(settlement=late, actor=alice)
    third = run_partners(entity, alice)

    item = Break.objects.get(kind=BreakKind.AMOUNT_MISMATCH)
    assert (item.state, item.resolved_run) == (BreakState.RESOLVED, third)
    assert Case.objects.get(kind="reconciliation_amount_mismatch").state == "resolved"
    assert third.break_count == 2


def test_a_line_of_an_earlier_period_counts_in_its_accruals_period(world):
    """A late April accrual paid on the May statement is April's, not May's."""
    entity, alice, sellers = world
    april = Accrual.objects.filter(partner=sellers["agreed"]).first()
    Accrual.objects.filter(pk=april.pk).update(
        period_start=dt.date(2026, 4, 1), period_end=dt.date(2026, 4, 30)
    )
    run = run_partners(entity, alice)

    subjects = {(t.subject, t.subject_start) for t in TotalsRow.objects.filter(run=run)}
    assert (sellers["agreed"].partner_id, MAY) not in subjects
    assert run.break_count == 3
