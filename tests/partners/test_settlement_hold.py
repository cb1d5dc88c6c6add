"""A quarantined usage event for a partner's customer holds that period's settlement;
resolving it releases the hold."""

import datetime as dt
from types import SimpleNamespace

import pytest

from exceptions.models import Case
from exceptions.services import case_open_or_bump, case_resolve
from partners.choices import SettlementState
from partners.errors import SettlementError
from partners.services import settlements as svc
from partners.services.holds import settlements_recheck_holds
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def _quarantined_usage(sub):
    f.ingest(
        "subscription.cancelled",
        {"subscription_id": sub.subscription_id, "effective_date": "2026-04-10", "reason": None},
    )
    event = f.ingest(
        "usage.recorded",
        {
            "usage_id": f.next_id("use"),
            "subscription_id": sub.subscription_id,
            "meter": "api",
            "quantity": "10",
            "unit_price": "1",
            "period_start": "2026-04-01",
            "period_end": "2026-04-30",
        },
    )
    assert event.state == "quarantined"
    return Case.objects.get(subject_id=str(event.pk))


@pytest.fixture
def april(channel):
    alice, bob = channel
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("100.00")])
    settlement = svc.settlement_open(
        partner=seller, on=dt.date(2026, 4, 1), currency="USD", actor=alice
    )
    return SimpleNamespace(sub=sub, settlement=settlement, alice=alice, bob=bob)


def test_quarantined_usage_of_partner_customer_holds_settlement_and_resolving_releases(april):
    sub, settlement, alice = april.sub, april.settlement, april.alice
    case = _quarantined_usage(sub)

    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    assert settlement.state == SettlementState.ON_HOLD
    assert f"#{case.pk}" in settlement.hold_reason
    with pytest.raises(SettlementError) as refused:
        svc.settlement_submit(settlement=settlement, actor=alice)
    assert refused.value.code == "on_hold"

    case_resolve(case=case, actor=alice, reason="usage belongs to the new subscription")
    assert settlements_recheck_holds(actor=None) == 1

    settlement.refresh_from_db()
    assert settlement.state == SettlementState.CALCULATED
    reasons = [h.history_change_reason for h in settlement.history.order_by("history_id")]
    assert reasons[-2].startswith("held: blocking cases open")
    assert reasons[-1] == "released: its blocking cases are closed"


def test_case_opened_after_submission_holds_at_approval_and_release_returns_to_submitted(april):
    sub, settlement, alice, bob = april.sub, april.settlement, april.alice, april.bob
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    svc.settlement_submit(settlement=settlement, actor=alice)
    case = _quarantined_usage(sub)

    with pytest.raises(SettlementError) as refused:
        svc.settlement_approve(settlement=settlement, actor=bob)
    assert refused.value.code == "on_hold"
    settlement.refresh_from_db()
    assert settlement.state == SettlementState.ON_HOLD  # the hold stays although refused

    case_resolve(case=case, actor=alice, reason="fixed")
    settlements_recheck_holds(actor=None)
    settlement.refresh_from_db()
    assert settlement.state == SettlementState.SUBMITTED
    assert svc.settlement_approve(settlement=settlement, actor=bob).state == "approved"


def test_case_of_another_customer_does_not_hold(april):
    settlement, alice = april.settlement, april.alice
    other = f.subscription(buyer=f.customer())
    _quarantined_usage(other)

    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)

    assert settlement.state == SettlementState.CALCULATED


def test_blocking_case_of_a_dead_posting_in_the_period_holds_other_months_do_not(april):
    sub, settlement, alice = april.sub, april.settlement, april.alice
    invoice = sub.invoices.get()
    customer = sub.customer.customer_id
    # What erp_sync opens for a dead posting: high severity (blocking), scoped by period.
    case_open_or_bump(
        subject=invoice,
        kind="erp_rejected",
        severity="high",
        title="dead",
        customer=customer,
        period="2026-05",
    )
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    assert settlement.state == SettlementState.CALCULATED  # May's case, April's settlement

    case = case_open_or_bump(
        subject=invoice,
        kind="erp_dead",
        severity="high",
        title="dead",
        customer=customer,
        period="2026-04",
    )
    assert case.blocking
    assert settlements_recheck_holds(actor=None) == 1
    settlement.refresh_from_db()
    assert settlement.state == SettlementState.ON_HOLD
