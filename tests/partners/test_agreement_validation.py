"""Bad agreements are refused with a message naming what and where; nothing half-written."""

import datetime as dt

import pytest

from partners.errors import AgreementInvalid
from partners.models import Agreement, CommissionRule
from partners.services.agreements import agreement_create, agreement_version_create
from tests.partners import factories as f

pytestmark = pytest.mark.django_db

TIER_A = {"lower_amount": "0", "upper_amount": "1000", "rate_percent": "10"}


def _create(seller, rules, **terms):
    values = {
        "reference": f.next_id("AGR"),
        "effective_from": dt.date(2026, 1, 1),
        "currency": "USD",
        "settlement_period": "month",
        "basis": "invoiced",
    }
    values.update(terms)
    return agreement_create(partner_id=seller.partner_id, rules=rules, actor=None, **values)


@pytest.mark.parametrize(
    ("rules", "field", "code", "words"),
    [
        ([f.rule(rate_percent="-1")], "rules[0].rate_percent", "rate_out_of_range", "-1%"),
        ([f.rule(rate_percent="100.01")], "rules[0].rate_percent", "rate_out_of_range", "100"),
        (
            [
                f.rule(rate_percent="5"),
                f.rule("t", "tiered", tiers=[TIER_A, {**TIER_A, "rate_percent": "12"}]),
            ],
            "rules[1].tiers[1].lower_amount",
            "tier_overlap",
            "overlaps",
        ),
        (
            [f.rule("t", "tiered", tiers=[{**TIER_A, "upper_amount": "0"}])],
            "rules[0].tiers[0].upper_amount",
            "tier_order",
            "must be above",
        ),
        (
            [
                f.rule(
                    "t",
                    "tiered",
                    tiers=[TIER_A, {**TIER_A, "lower_amount": "1500", "upper_amount": None}],
                )
            ],
            "rules[0].tiers[1].lower_amount",
            "tier_gap",
            "gap",
        ),
        (
            [f.rule("cap", "cap", cap_amount="100", floor_amount="200")],
            "rules[0].cap_amount",
            "cap_below_floor",
            "below the floor 200",
        ),
        ([f.rule("u", "per_unit")], "rules[0].unit_amount", "required", "needs unit_amount"),
        ([f.rule(rate_percent=0.2)], "rules[0].rate_percent", "invalid_decimal", "float"),
        ([], "rules", "rules_required", "at least one"),
    ],
)
def test_create_bad_rule_is_refused_naming_field_and_nothing_is_stored(rules, field, code, words):
    seller = f.partner()

    with pytest.raises(AgreementInvalid) as refused:
        _create(seller, rules)

    assert (refused.value.field, refused.value.code) == (field, code)
    assert refused.value.message.startswith(f"{field}: ")
    assert words in refused.value.message
    assert refused.value.status == 400
    assert not Agreement.objects.exists()
    assert not CommissionRule.objects.exists()


def test_create_for_unknown_partner_is_refused_naming_partner():
    with pytest.raises(AgreementInvalid) as refused:
        agreement_create(
            partner_id="ptn_nobody",
            rules=[f.rule(rate_percent="5")],
            actor=None,
            reference="A-1",
            effective_from=dt.date(2026, 1, 1),
            currency="USD",
            settlement_period="month",
            basis="invoiced",
        )

    assert refused.value.field == "partner"
    assert "'ptn_nobody'" in refused.value.message


def test_overlapping_agreement_for_same_partner_is_refused_naming_the_other():
    seller = f.partner()
    first = _create(seller, [f.rule(rate_percent="5")], effective_to=dt.date(2026, 7, 1))

    with pytest.raises(AgreementInvalid) as refused:
        _create(seller, [f.rule(rate_percent="5")], effective_from=dt.date(2026, 6, 1))

    assert refused.value.code == "agreement_overlap"
    assert str(first) in refused.value.message
    # Adjacent (the end is exclusive) is fine.
    _create(seller, [f.rule(rate_percent="5")], effective_from=dt.date(2026, 7, 1))


def test_edit_active_agreement_creates_new_version_and_old_accruals_keep_theirs():
    seller = f.partner()
    v1 = _create(seller, [f.rule(rate_percent="10")])
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-03-02", lines=[f.line("100.00")])
    f.recompute("2026-03-01")

    v2 = agreement_version_create(agreement=v1, rules=[f.rule(rate_percent="15")], actor=None)

    v1.refresh_from_db()
    assert (v1.state, v2.state, v2.version, v2.supersedes) == ("superseded", "active", 2, v1)
    assert v1.accruals.get().amount == 10
    with pytest.raises(AgreementInvalid) as refused:
        agreement_version_create(agreement=v1, actor=None, basis="collected")
    assert refused.value.code == "agreement_superseded"
    v3 = agreement_version_create(agreement=v2, actor=None, settlement_period="quarter")
    assert [r.rate_percent for r in v3.rules.all()] == [15]
