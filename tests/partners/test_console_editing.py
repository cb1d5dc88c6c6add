"""Editing agreements and attribution in the console: a new agreement version from an
effective date (the version in use keeps its terms and rules), attribution created and
ended — forms that say what is wrong on the field, permission-checked, with history."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from partners.choices import AgreementState
from partners.models import Accrual, Agreement, Attribution
from partners.services.agreements import agreement_version_create
from tests.partners import factories as f

pytestmark = pytest.mark.django_db

TERMS = {
    "effective_from": "2026-04-16",
    "effective_to": "",
    "settlement_period": "month",
    "basis": "invoiced",
    "tier_mode": "whole_volume",
}


def _rows(*rules: dict) -> dict:
    """The rules formset's POST data (one row per rule)."""
    data = {
        "rules-TOTAL_FORMS": str(len(rules)),
        "rules-INITIAL_FORMS": "0",
        "rules-MIN_NUM_FORMS": "0",
        "rules-MAX_NUM_FORMS": "1000",
    }
    for n, rule in enumerate(rules):
        data.update({f"rules-{n}-{name}": value for name, value in rule.items()})
    return data


@pytest.fixture
def seller_v1(channel):
    alice, _ = channel
    seller = f.partner()
    v1 = f.agreement(of=seller, rules=[f.rule("platform-20", rate_percent="20")])
    return seller, v1, alice


def _login(client, person):
    client.force_login(person)
    return client


def test_new_version_form_is_prefilled_with_the_current_terms_and_rules(client, seller_v1):
    _, v1, alice = seller_v1

    page = _login(client, alice).get(reverse("partners:agreement-version-new", args=[v1.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="platform-20"' in html and 'value="20"' in html
    assert "Version 1 is not changed" in html


def test_new_version_from_a_date_keeps_the_version_in_use_for_the_days_before(client, seller_v1):
    seller, v1, alice = seller_v1
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-05", lines=[f.line("1000.00")])
    f.invoice(sub=sub, on="2026-04-20", lines=[f.line("1000.00")])
    url = reverse("partners:agreement-version-new", args=[v1.pk])
    rules = _rows(
        {"code": "platform-15", "kind": "percent_of_net", "rate_percent": "15"},
        {"code": "cap", "kind": "cap", "cap_amount": "5000", "floor_amount": "10"},
    )

    answer = _login(client, alice).post(url, {**TERMS, **rules}, follow=True)

    v2 = Agreement.objects.get(reference=v1.reference, version=2)
    assert answer.redirect_chain[-1][0] == reverse("partners:agreement-detail", args=[v2.pk])
    assert "Saved" in answer.content.decode() and "apply from 2026-04-16" in answer.content.decode()
    v1.refresh_from_db()
    # The version in use keeps its terms and rules; only its end is the new version's start.
    assert (v1.state, v1.effective_to) == (AgreementState.ACTIVE, dt.date(2026, 4, 16))
    assert [(r.code, r.rate_percent) for r in v1.rules.all()] == [("platform-20", Decimal(20))]
    assert (v2.effective_from, v2.supersedes) == (dt.date(2026, 4, 16), v1)
    assert sorted(r.code for r in v2.rules.all()) == ["cap", "platform-15"]
    # Audited: who and why, on both versions.
    assert v1.history.first().history_user == alice
    assert "v2 applies from" in v1.history.first().history_change_reason
    assert v2.history.first().history_user == alice
    # April's accruals: the 5th under v1 (20%), the 20th under v2 (15%).
    f.recompute("2026-04-01")
    earned = {(a.agreement.version, a.accrued_on.day): a.amount for a in Accrual.objects.all()}
    assert earned == {(1, 5): Decimal("200.00"), (2, 20): Decimal("150.00")}
    # The version in use cannot be edited again: only its newest successor.
    refused = client.post(url, {**TERMS, **rules})
    assert refused.status_code == 400
    assert "edit the newest version" in refused.content.decode()


@pytest.mark.parametrize(
    ("change", "testid", "message"),
    [
        ({"rules-0-rate_percent": "150"}, "error-rule-0-rate_percent", "must be between 0 and 100"),
        ({"rules-0-tiers": "0-1000 10"}, "error-rule-0-tiers", "is not &quot;from-to: rate%&quot;"),
        ({"effective_from": "2025-12-01"}, "error-effective_from", "before the version it"),
        ({"effective_to": "2026-04-01"}, "error-effective_to", "must be after the start"),
        ({"rules-0-kind": "cap"}, "error-rule-0-cap_amount", "cap_amount"),
    ],
)
def test_invalid_new_version_shows_the_error_on_its_field_and_saves_nothing(
    client, seller_v1, change, testid, message
):
    _, v1, alice = seller_v1
    url = reverse("partners:agreement-version-new", args=[v1.pk])
    data = {
        **TERMS,
        **_rows({"code": "p", "kind": "percent_of_net", "rate_percent": "10"}),
        **change,
    }

    answer = _login(client, alice).post(url, data)

    assert answer.status_code == 400
    html = answer.content.decode()
    error = html.split(f'data-testid="{testid}">', 1)
    assert len(error) == 2, f"no error shown on {testid}"
    assert message in error[1].split("</span>", 1)[0]
    assert Agreement.objects.filter(reference=v1.reference).count() == 1
    v1.refresh_from_db()
    assert v1.effective_to is None


@pytest.mark.parametrize("role", ["auditor", "finance_ops", "partner"])
def test_only_channel_managers_may_make_versions_or_edit_attribution(client, seller_v1, role):
    seller, v1, _ = seller_v1
    person = f.user(f"someone-{role}", role)
    client.force_login(person)
    url = reverse("partners:agreement-version-new", args=[v1.pk])

    assert client.get(url).status_code == 403
    assert client.post(url, {**TERMS, **_rows()}).status_code == 403
    assert client.post(reverse("partners:attribution-new", args=[seller.pk]), {}).status_code == 403
    assert Agreement.objects.filter(reference=v1.reference).count() == 1


def test_agreement_page_offers_a_new_version_only_to_who_may_make_one(client, seller_v1):
    _, v1, alice = seller_v1
    detail = reverse("partners:agreement-detail", args=[v1.pk])

    assert 'data-testid="new-version"' in _login(client, alice).get(detail).content.decode()
    client.force_login(f.user("aud", "auditor"))
    assert 'data-testid="new-version"' not in client.get(detail).content.decode()
    agreement_version_create(agreement=v1, actor=alice)  # v1 superseded
    client.force_login(alice)
    assert 'data-testid="new-version"' not in client.get(detail).content.decode()


def test_attribution_is_created_from_the_console_with_history(client, seller_v1):
    seller, _, alice = seller_v1
    buyer = f.customer()
    sub = f.subscription(buyer=buyer)  # no partner on the event
    url = reverse("partners:attribution-new", args=[seller.pk])
    data = {"role": "reseller", "subscription_id": sub.subscription_id, "valid_from": "2026-03-01"}

    answer = _login(client, alice).post(url, data, follow=True)

    attribution = Attribution.objects.get(subscription=sub)
    assert (attribution.partner, attribution.origin) == (seller, "console")
    assert f"Attributed subscription {sub.subscription_id}" in answer.content.decode()
    assert attribution.history.first().history_user == alice
    # The same deal and role again, overlapping: refused on the start date, nothing saved.
    again = client.post(url, data)
    assert again.status_code == 400
    assert 'data-testid="error-valid_from"' in again.content.decode()
    assert "overlapping" in again.content.decode()
    assert Attribution.objects.filter(subscription=sub).count() == 1


@pytest.mark.parametrize(
    ("data", "testid", "message"),
    [
        ({"subscription_id": "sub_nope"}, "error-subscription_id", "no subscription"),
        ({}, "error-subscription_id", "give a subscription or a customer"),
        ({"customer_id": "cus_nope"}, "error-customer_id", "no customer"),
        (
            {"customer_id": "X", "valid_to": "2026-01-01"},
            "error-valid_to",
            "must be after the start",
        ),
    ],
)
def test_invalid_attribution_shows_the_error_on_its_field(client, seller_v1, data, testid, message):
    seller, _, alice = seller_v1
    url = reverse("partners:attribution-new", args=[seller.pk])

    base = {"role": "reseller", "valid_from": "2026-03-01"}
    answer = _login(client, alice).post(url, {**base, **data})

    assert answer.status_code == 400
    html = answer.content.decode()
    assert f'data-testid="{testid}"' in html and message in html
    assert not Attribution.objects.filter(origin="console").exists()


def test_attribution_end_is_edited_with_history_and_checked(client, seller_v1):
    seller, _, alice = seller_v1
    sub = f.subscription(buyer=f.customer(), seller=seller)  # attributed from 2026-01-01
    attribution = Attribution.objects.get(subscription=sub)
    url = reverse("partners:attribution-edit", args=[attribution.pk])

    too_early = _login(client, alice).post(url, {"valid_to": "2025-12-31"})
    saved = client.post(url, {"valid_to": "2026-06-01"}, follow=True)

    assert too_early.status_code == 400
    assert 'data-testid="error-valid_to"' in too_early.content.decode()
    attribution.refresh_from_db()
    assert attribution.valid_to == dt.date(2026, 6, 1)
    assert "now ends: 2026-06-01" in saved.content.decode()
    last = attribution.history.first()
    assert (last.history_user, last.history_change_reason) == (
        alice,
        "end changed from open end to 2026-06-01",
    )
    page = client.get(url).content.decode()
    assert "end changed from open end to 2026-06-01" in page  # the history on the page
