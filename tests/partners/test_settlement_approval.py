"""Settlement lifecycle: calculate, submit, four-eyes approval emitting settlement.approved,
stale refusal, rejection with a reason."""

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

import pytest

from billing.models import FinanceEvent
from partners.choices import SettlementState
from partners.errors import SettlementError
from partners.services import settlements as svc
from partners.services.agreements import agreement_version_create
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def prepared(channel):
    alice, bob = channel
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("1000.00"), f.line("250.00")])
    settlement = svc.settlement_open(
        partner=seller, on=dt.date(2026, 4, 15), currency="USD", actor=alice
    )
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    return SimpleNamespace(seller=seller, sub=sub, settlement=settlement, alice=alice, bob=bob)


def test_calculate_builds_lines_whose_sum_is_the_total(prepared):
    p = prepared
    settlement, alice = p.settlement, p.alice

    assert settlement.state == SettlementState.CALCULATED
    assert settlement.total_amount == Decimal("250.00")
    assert sum(line.amount for line in settlement.lines.all()) == settlement.total_amount
    assert (
        settlement.history.first().history_change_reason == "calculated: 2 lines, total 250.00 USD"
    )
    assert settlement.history.first().history_user == alice


def test_submitter_cannot_approve_own_settlement(prepared):
    p = prepared
    settlement, alice = p.settlement, p.alice
    svc.settlement_submit(settlement=settlement, actor=alice)

    with pytest.raises(SettlementError) as refused:
        svc.settlement_approve(settlement=settlement, actor=alice)

    assert refused.value.code == "four_eyes"
    settlement.refresh_from_db()
    assert settlement.state == SettlementState.SUBMITTED


def test_approver_without_permission_is_refused(prepared):
    p = prepared
    settlement, alice = p.settlement, p.alice
    svc.settlement_submit(settlement=settlement, actor=alice)
    auditor = f.user("aud", "auditor")

    with pytest.raises(SettlementError) as refused:
        svc.settlement_approve(settlement=settlement, actor=auditor)

    assert refused.value.code == "permission_denied"


def test_second_person_approves_and_settlement_approved_event_is_logged(
    prepared, django_capture_on_commit_callbacks
):
    p = prepared
    seller, settlement, alice, bob = p.seller, p.settlement, p.alice, p.bob
    svc.settlement_submit(settlement=settlement, actor=alice)

    with django_capture_on_commit_callbacks() as callbacks:
        approved = svc.settlement_approve(settlement=settlement, actor=bob)

    assert approved.state == SettlementState.APPROVED
    assert approved.approved_by == bob
    event = FinanceEvent.objects.get(type="settlement.approved")
    assert approved.approved_event == event
    assert (event.source, event.state, event.entity) == ("concord", "applied", "US01")
    assert event.data["total"] == "250.00"
    assert event.data["partner_id"] == seller.partner_id
    assert [line["amount"] for line in event.data["lines"]] == ["200.00", "50.00"]
    assert callbacks  # billing's event_applied goes out on commit
    assert approved.history.first().history_change_reason == "approved (four-eyes)"


def test_approval_of_settlement_changed_since_calculated_is_refused_as_stale(prepared):
    p = prepared
    sub, settlement, alice, bob = p.sub, p.settlement, p.alice, p.bob
    svc.settlement_submit(settlement=settlement, actor=alice)
    f.invoice(sub=sub, on="2026-04-20", lines=[f.line("10.00")])  # a late April invoice

    with pytest.raises(SettlementError) as refused:
        svc.settlement_approve(settlement=settlement, actor=bob)

    assert refused.value.code == "stale"
    settlement.refresh_from_db()
    assert settlement.state == SettlementState.SUBMITTED
    assert not FinanceEvent.objects.filter(type="settlement.approved").exists()


def test_reject_needs_reason_then_reopen_and_recalculate(prepared):
    p = prepared
    settlement, alice, bob = p.settlement, p.alice, p.bob
    svc.settlement_submit(settlement=settlement, actor=alice)

    with pytest.raises(SettlementError) as refused:
        svc.settlement_reject(settlement=settlement, actor=bob, reason="  ")
    assert refused.value.field == "reason"

    rejected = svc.settlement_reject(settlement=settlement, actor=bob, reason="wrong tier")
    assert (rejected.state, rejected.rejection_reason) == (SettlementState.REJECTED, "wrong tier")
    reopened = svc.settlement_reopen(settlement=settlement, actor=alice)
    assert reopened.state == SettlementState.DRAFT
    assert svc.settlement_calculate(settlement=settlement, actor=alice).state == "calculated"


def test_approve_from_calculated_is_an_illegal_transition(prepared):
    p = prepared
    settlement, bob = p.settlement, p.bob

    with pytest.raises(SettlementError) as refused:
        svc.settlement_approve(settlement=settlement, actor=bob)

    assert refused.value.code == "illegal_transition"


def test_agreement_edited_after_submission_is_stale_and_lines_keep_their_total(prepared):
    settlement, alice, bob = prepared.settlement, prepared.alice, prepared.bob
    svc.settlement_submit(settlement=settlement, actor=alice)
    agreement = prepared.seller.agreements.get()
    agreement_version_create(agreement=agreement, rules=[f.rule(rate_percent="15")], actor=alice)

    with pytest.raises(SettlementError) as refused:
        svc.settlement_approve(settlement=settlement, actor=bob)
    assert refused.value.code == "stale"
    f.recompute("2026-04-01", seller=prepared.seller)  # the new version's accruals, stored

    settlement.refresh_from_db()
    lines = list(settlement.lines.all())
    assert sum(line.amount for line in lines) == settlement.total_amount == Decimal("250.00")
    assert all(line.accrual_id is None for line in lines)
    svc.settlement_reject(settlement=settlement, actor=bob, reason="new rate")
    svc.settlement_reopen(settlement=settlement, actor=alice)
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    assert settlement.total_amount == Decimal("187.50")
