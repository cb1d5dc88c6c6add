"""Every partners service leaves history rows naming the actor and the reason; the partner
keeps its paying entity; settlement.approved goes through billing's log and its receivers."""

import datetime as dt

import pytest
from django.test import TestCase

from billing.models import FinanceEvent
from partners.models import Agreement, Attribution, Partner
from partners.services import settlements as svc
from partners.services.agreements import agreement_version_create
from partners.services.attributions import attribution_create
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def test_partner_upsert_sets_paying_entity_once_from_the_event_entity():
    f.entity("DE01", "EUR")
    seller = f.partner()
    assert seller.paying_entity.code == "US01"

    f.ingest(
        "partner.upserted",
        {
            "partner_id": seller.partner_id,
            "name": "Renamed",
            "kind": "reseller",
            "parent_partner_id": None,
            "country": "DE",
            "currency": "EUR",
        },
        entity="DE01",
    )

    seller = Partner.objects.get(pk=seller.pk)
    assert (seller.name, seller.paying_entity.code) == ("Renamed", "US01")


def test_agreement_and_attribution_services_stamp_actor_and_reason(channel):
    alice, _ = channel
    seller = f.partner()
    v1 = f.agreement(of=seller)
    v2 = agreement_version_create(agreement=v1, actor=alice, basis="collected")
    attribution_create(
        partner_id=seller.partner_id,
        customer_id=f.customer().customer_id,
        role="referral",
        valid_from=dt.date(2026, 1, 1),
        actor=alice,
    )

    old = Agreement.objects.get(pk=v1.pk).history.first()
    assert (old.history_change_reason, old.history_user) == ("superseded by v2", alice)
    new = v2.history.get()
    assert new.history_change_reason == f"agreement {v1.reference} v2"
    assert v2.rules.get().history.get().history_user == alice
    row = Attribution.objects.get(origin="console").history.get()
    assert row.history_user == alice
    assert row.history_change_reason.startswith("attributed ")


def test_approved_settlement_event_reaches_receivers_without_error(channel, caplog):
    alice, bob = channel
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("80.00")])
    settlement = svc.settlement_open(
        partner=seller, on=dt.date(2026, 4, 1), currency="USD", actor=alice
    )
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    svc.settlement_submit(settlement=settlement, actor=alice)

    with TestCase.captureOnCommitCallbacks(execute=True):
        svc.settlement_approve(settlement=settlement, actor=bob)

    event = FinanceEvent.objects.get(type="settlement.approved")
    assert event.state == "applied"
    assert event.result["records"] == {"settlement": f"stl_{settlement.pk}"}
    assert event.history.first().history_user == bob
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
