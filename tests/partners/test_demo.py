"""`manage.py seed_partners_demo` (after `seed_demo`, at the test scale): agreements of every
rule kind, accruals, settlements in every state the services reach, the second channel
manager — and a second run creates nothing."""

from dataclasses import dataclass
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction

from billing.demo.data import PASSWORD
from billing.models import CreditNote, FinanceEvent
from partners.choices import AccrualSource, SettlementLineKind
from partners.models import (
    Accrual,
    Agreement,
    Attribution,
    CommissionRule,
    Settlement,
    SettlementLine,
)
from partners.services.holds import blocking_cases

pytestmark = pytest.mark.django_db

COUNTED = (Agreement, CommissionRule, Attribution, Accrual, Settlement, SettlementLine)


def _counts() -> dict[str, int]:
    counted = {model.__name__: model.objects.count() for model in COUNTED}
    counted["history"] = Accrual.history.count() + Settlement.history.count()
    counted["users"] = get_user_model().objects.count()
    counted["events"] = FinanceEvent.objects.count()
    return counted


def _seed() -> str:
    out = StringIO()
    call_command("seed_partners_demo", stdout=out)
    return out.getvalue()


@dataclass
class Runs:
    output: str
    first: dict
    second: dict
    second_output: str


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        call_command("seed_demo", "--scale", "0.1", stdout=StringIO())
        output = _seed()
        first = _counts()
        again = _seed()
        yield Runs(output, first, _counts(), again)
        transaction.set_rollback(True)


def test_partner_demo_run_twice_creates_nothing_the_second_time(seeded):
    assert seeded.first["Settlement"] >= 7
    assert seeded.second == seeded.first
    states = lambda text: [x for x in text.splitlines() if "settlement " in x]  # noqa: E731
    assert states(seeded.second_output) == states(seeded.output)


def test_partner_demo_has_agreements_of_every_rule_kind(seeded):
    kinds = set(CommissionRule.objects.values_list("kind", flat=True))
    assert kinds == {"percent_of_net", "tiered", "per_unit", "rebate", "cap"}
    tiered = Agreement.objects.filter(rules__kind="tiered")
    assert set(tiered.values_list("tier_mode", flat=True)) == {"whole_volume", "marginal"}
    assert CommissionRule.objects.filter(kind="cap", floor_amount__isnull=False).exists()
    assert Agreement.objects.filter(override_on_children=True, partner__kind="distributor")
    assert Accrual.objects.filter(source_kind=AccrualSource.INVOICE_LINE).count() > 20
    earned = set(Accrual.objects.values_list("rule__kind", flat=True))
    assert {"percent_of_net", "per_unit", "tiered"} <= earned


def test_partner_demo_has_settlements_in_every_state_the_services_reach(seeded):
    states = set(Settlement.objects.values_list("state", flat=True))
    wanted = {"draft", "calculated", "submitted", "approved", "paid", "rejected", "on_hold"}
    assert wanted <= states
    rejected = Settlement.objects.get(state="rejected")
    assert rejected.rejection_reason == "demo: rates to be checked"
    for settlement in Settlement.objects.exclude(state="draft"):
        lines = sum((line.amount for line in settlement.lines.all()), 0)
        assert settlement.total_amount == lines


def test_partner_demo_hold_comes_from_a_quarantined_event_of_a_partners_customer(seeded):
    held = Settlement.objects.get(state="on_hold")
    cases = list(blocking_cases(held))
    assert cases
    assert all(
        case.subject_type == ContentType.objects.get_for_model(FinanceEvent) for case in cases
    )
    assert FinanceEvent.objects.get(pk=cases[0].subject_id).state == "quarantined"
    assert held.hold_reason.startswith("blocking cases open")


def test_partner_demo_credit_note_after_payout_lands_as_a_clawback_line(seeded):
    paid = Settlement.objects.get(state="paid")
    clawback = SettlementLine.objects.filter(
        kind=SettlementLineKind.CLAWBACK, refers_to__isnull=False
    ).first()
    assert clawback is not None
    assert clawback.amount < 0
    assert clawback.refers_to.settlement == paid
    assert clawback.settlement.partner == paid.partner
    assert clawback.settlement.period_start > paid.period_start
    assert clawback.settlement.state == "calculated"
    assert CreditNote.objects.filter(invoice=clawback.accrual.invoice).exists()


def test_partner_demo_submission_waits_for_a_second_channel_manager(seeded):
    waiting = Settlement.objects.get(state="submitted")
    assert waiting.submitted_by.username == "channel"
    approved = Settlement.objects.get(state="approved")
    assert (approved.submitted_by.username, approved.approved_by.username) == (
        "channel",
        "channel2",
    )
    channel2 = get_user_model().objects.get(username="channel2")
    assert channel2.check_password(PASSWORD)
    assert channel2.has_perm("partners.approve_settlement")
    assert "channel2" in seeded.output
