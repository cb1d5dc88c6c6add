"""The settlement console: the queue by state, settlement detail with its accrual breakdown,
buttons for the legal FSM transitions the user may run, four-eyes refusal as a message."""

import datetime as dt

import pytest
from django.urls import reverse

from partners.choices import SettlementState
from partners.models import Settlement, SettlementStatement
from partners.services import settlements as svc
from tests.partners import factories as f
from tests.partners.test_settlement_hold import _quarantined_usage
from tests.partners.test_statement_builders import calculated, two_months

pytestmark = pytest.mark.django_db


def commands(answer) -> list[str]:
    return [c["name"] for c in answer.context["commands"]]


def message_texts(answer) -> list[str]:
    return [str(m) for m in answer.context["messages"]]


def test_submitter_approving_in_console_sees_four_eyes_refusal_not_500(channel, client):
    alice, _ = channel
    settlement = calculated(alice)
    client.force_login(alice)
    client.post(reverse("partners:settlement-submit", args=[settlement.pk]))

    answer = client.post(reverse("partners:settlement-approve", args=[settlement.pk]), follow=True)

    assert answer.status_code == 200
    assert any("cannot approve it (four-eyes)" in text for text in message_texts(answer))
    assert b"four-eyes" in answer.content
    settlement.refresh_from_db()
    assert settlement.state == SettlementState.SUBMITTED
    assert not SettlementStatement.objects.exists()


def test_second_channel_manager_approves_in_console_and_statement_links_appear(channel, client):
    alice, bob = channel
    settlement = calculated(alice)
    svc.settlement_submit(settlement=settlement, actor=alice)
    client.force_login(bob)

    answer = client.post(reverse("partners:settlement-approve", args=[settlement.pk]), follow=True)

    settlement.refresh_from_db()
    assert (settlement.state, settlement.approved_by) == (SettlementState.APPROVED, bob)
    assert any("approved" in text for text in message_texts(answer))
    assert answer.context["has_statement"] is True
    assert reverse("partners:statement-pdf", args=[settlement.pk]).encode() in answer.content
    assert commands(answer) == []  # approved: no calculate/submit/approve/reject left


def test_buttons_are_the_legal_transitions_the_user_holds_permission_for(channel, client):
    alice, _ = channel
    settlement = calculated(alice)
    url = reverse("partners:settlement-detail", args=[settlement.pk])
    client.force_login(alice)
    assert commands(client.get(url)) == ["calculate", "submit"]

    svc.settlement_submit(settlement=settlement, actor=alice)
    assert commands(client.get(url)) == ["approve", "reject"]

    client.force_login(f.user("aud", "auditor"))
    answer = client.get(url)
    assert answer.status_code == 200 and commands(answer) == []
    assert b'data-testid="approve"' not in answer.content
    assert (
        client.post(reverse("partners:settlement-approve", args=[settlement.pk])).status_code == 403
    )


def test_reject_needs_a_reason_and_sends_it_back(channel, client):
    alice, bob = channel
    settlement = calculated(alice)
    svc.settlement_submit(settlement=settlement, actor=alice)
    client.force_login(bob)
    url = reverse("partners:settlement-reject", args=[settlement.pk])

    refused = client.post(url, {"reason": " "}, follow=True)
    settlement.refresh_from_db()
    assert settlement.state == SettlementState.SUBMITTED
    assert any("needs a reason" in text for text in message_texts(refused))

    client.post(url, {"reason": "wrong period"})
    settlement.refresh_from_db()
    assert (settlement.state, settlement.rejection_reason) == ("rejected", "wrong period")


def test_calculate_and_submit_from_console(channel, client):
    alice, _ = channel
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("500.00")])
    draft = svc.settlement_open(partner=seller, on=dt.date(2026, 4, 1), currency="USD", actor=alice)
    client.force_login(alice)

    client.post(reverse("partners:settlement-calculate", args=[draft.pk]))
    client.post(reverse("partners:settlement-submit", args=[draft.pk]))

    draft.refresh_from_db()
    assert (draft.state, draft.total_amount, draft.submitted_by) == ("submitted", 100, alice)


def test_detail_shows_accrual_breakdown_and_clawback_linked_to_original_line(channel, client):
    alice, bob = channel
    months = two_months(alice, bob, approve_may=False)
    original = months.april.lines.get()
    client.force_login(alice)

    answer = client.get(reverse("partners:settlement-detail", args=[months.may.pk]))
    html = answer.content.decode()

    assert answer.status_code == 200
    original_url = reverse("partners:settlement-detail", args=[months.april.pk])
    assert f'href="{original_url}#line-{original.pk}"' in html
    for line in months.may.lines.select_related("accrual__rule"):
        assert line.explanation in html
        assert line.accrual.rule.code in html
    assert "true-up" in html.lower()
    assert reverse("billing:invoice-detail", args=[original.accrual.invoice.invoice_id]) in html
    assert ">-100.00 USD<" in html and ">140.00 USD<" in html


def test_held_settlement_links_its_blocking_cases(channel, client):
    alice, _ = channel
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("100.00")])
    case = _quarantined_usage(sub)
    settlement = svc.settlement_open(
        partner=seller, on=dt.date(2026, 4, 1), currency="USD", actor=alice
    )
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    assert settlement.state == SettlementState.ON_HOLD
    client.force_login(alice)

    answer = client.get(reverse("partners:settlement-detail", args=[settlement.pk]))

    assert answer.context["blocking_cases"] == [case]
    assert f'href="{reverse("exceptions:case-detail", args=[case.pk])}"'.encode() in answer.content
    assert commands(answer) == []


def test_queue_filters_by_state_and_counts_each_state(channel, client):
    alice, _ = channel
    submitted = calculated(alice)
    svc.settlement_submit(settlement=submitted, actor=alice)
    other = calculated(alice)
    client.force_login(alice)

    answer = client.get(reverse("partners:settlement-list"), {"state": "submitted"})

    assert [s.pk for s, _ in answer.context["rows"]] == [submitted.pk]
    counts = {value: n for value, _, n in answer.context["states"]}
    assert counts["submitted"] == 1 and counts["calculated"] == 1
    assert Settlement.objects.get(pk=other.pk).state == "calculated"


def test_history_shows_who_did_what(channel, client):
    alice, bob = channel
    settlement = calculated(alice)
    svc.settlement_submit(settlement=settlement, actor=alice)
    client.force_login(bob)

    html = client.get(reverse("partners:settlement-detail", args=[settlement.pk])).content.decode()

    assert "cm-alice: submitted for approval" in html
    assert "cm-alice: calculated: 1 lines" in html
