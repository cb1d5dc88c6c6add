"""Attribution from subscription.created and from the console/API; overlaps refused."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from exceptions.models import Case
from partners.errors import AttributionInvalid
from partners.models import Attribution
from partners.services.attributions import attribution_create, attributions_from_subscriptions
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def test_subscription_created_with_partner_fields_creates_attribution():
    seller = f.partner(kind="referral")

    sub = f.subscription(buyer=f.customer(), seller=seller, role="referral", start="2026-02-01")

    attribution = Attribution.objects.get(subscription=sub)
    assert (attribution.partner, attribution.role, attribution.origin) == (
        seller,
        "referral",
        "event",
    )
    assert attribution.valid_from == dt.date(2026, 2, 1)
    assert attribution.event == sub.event
    assert attributions_from_subscriptions(actor=None) == 0  # idempotent


def test_subscription_naming_unknown_partner_opens_a_case_instead():
    buyer = f.customer()
    sub = f.subscription(buyer=buyer)
    sub.partner_code = "ptn_ghost"
    sub.save(update_fields=["partner_code"])

    assert attributions_from_subscriptions(actor=None) == 0

    case = Case.objects.get(kind="unknown_partner")
    assert (case.customer, case.partner) == (buyer.customer_id, "ptn_ghost")


def test_overlapping_attribution_for_same_subscription_and_role_is_refused():
    seller, other = f.partner(), f.partner()
    sub = f.subscription(buyer=f.customer(), seller=seller)  # reseller from 2026-01-01

    with pytest.raises(AttributionInvalid) as refused:
        attribution_create(
            partner_id=other.partner_id,
            subscription_id=sub.subscription_id,
            role="reseller",
            valid_from=dt.date(2026, 3, 1),
            actor=None,
        )

    assert refused.value.field == "valid_from"
    assert seller.partner_id in refused.value.message
    # Another role on the same subscription is fine.
    attribution_create(
        partner_id=other.partner_id,
        subscription_id=sub.subscription_id,
        role="referral",
        valid_from=dt.date(2026, 3, 1),
        actor=None,
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"partner_id": "ptn_nobody"}, "partner_id"),
        ({"subscription_id": "sub_nobody"}, "subscription_id"),
        ({"customer_id": "cus_1"}, "subscription_id"),
        ({"role": "friend"}, "role"),
        ({"valid_to": dt.date(2025, 1, 1)}, "valid_to"),
    ],
)
def test_bad_attribution_is_refused_naming_the_field(kwargs, field):
    seller = f.partner()
    sub = f.subscription(buyer=f.customer())
    values = {
        "partner_id": seller.partner_id,
        "subscription_id": sub.subscription_id,
        "role": "reseller",
        "valid_from": dt.date(2026, 1, 1),
        **kwargs,
    }

    with pytest.raises(AttributionInvalid) as refused:
        attribution_create(actor=None, **values)

    assert refused.value.field == field
    assert not Attribution.objects.exists()


def test_customer_attribution_applies_when_subscription_has_none():
    seller = f.partner()
    f.agreement(of=seller)
    buyer = f.customer()
    attribution_create(
        partner_id=seller.partner_id,
        customer_id=buyer.customer_id,
        role="referral",
        valid_from=dt.date(2026, 1, 1),
        actor=None,
    )
    sub = f.subscription(buyer=buyer)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("50.00")])

    f.recompute("2026-04-01")

    assert seller.accruals.get().amount == 10


@pytest.mark.postgres
def test_database_refuses_overlapping_attribution_written_past_the_service():
    seller = f.partner()
    sub = f.subscription(buyer=f.customer(), seller=seller)
    clash = Attribution(
        partner=f.partner(),
        subscription=sub,
        role="reseller",
        valid_from=dt.date(2026, 6, 1),
        origin="console",
    )

    refused = pytest.raises(IntegrityError, match="partners_attribution_no_overlap_subscription")
    with refused, transaction.atomic():
        clash.save()
