"""The partners API: lists with filters, settlement commands with scopes and four-eyes."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from partners.services import settlements as svc
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def _api(person) -> APIClient:
    api = APIClient()
    api.force_authenticate(person)
    return api


@pytest.fixture
def calculated(channel):
    alice = channel[0]
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("1000.00"), f.line("10.00")])
    settlement = svc.settlement_open(
        partner=seller, on=dt.date(2026, 4, 1), currency="USD", actor=alice
    )
    return svc.settlement_calculate(settlement=settlement, actor=alice)


def test_submitter_cannot_approve_through_the_api_but_a_second_manager_can(channel, calculated):
    alice, bob = channel
    url = f"/api/v1/settlements/{calculated.pk}"

    assert _api(alice).post(f"{url}/submit").json()["state"] == "submitted"
    refused = _api(alice).post(f"{url}/approve")
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["code"] == "four_eyes"

    approved = _api(bob).post(f"{url}/approve")
    assert approved.status_code == 200
    body = approved.json()
    assert (body["state"], body["approved_by"], body["total_amount"]) == (
        "approved",
        "cm-bob",
        "202.0000",
    )
    assert [line["amount"] for line in body["lines"]] == ["200.0000", "2.0000"]


def test_reject_without_reason_is_400_naming_reason(channel, calculated):
    alice, bob = channel
    _api(alice).post(f"/api/v1/settlements/{calculated.pk}/submit")

    answer = _api(bob).post(f"/api/v1/settlements/{calculated.pk}/reject", {}, format="json")

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "reason"


def test_auditor_reads_but_cannot_command(calculated):
    auditor = f.user("aud", "auditor")

    assert _api(auditor).get("/api/v1/settlements").status_code == 200
    assert _api(auditor).post(f"/api/v1/settlements/{calculated.pk}/submit").status_code == 403


def test_api_client_needs_settlements_write_scope(api_with_scopes, calculated):
    url = f"/api/v1/settlements/{calculated.pk}/submit"

    assert api_with_scopes("read").post(url).status_code == 403
    answer = api_with_scopes("settlements:write").post(url)
    assert answer.status_code == 200
    assert answer.json()["state"] == "submitted"


def test_lists_filter_and_cost_a_fixed_number_of_queries(channel, calculated):
    alice, _ = channel
    api = _api(alice)
    partner_id = calculated.partner.partner_id
    other = f.partner()
    f.agreement(of=other)

    accruals = api.get("/api/v1/accruals", {"partner": partner_id}).json()["results"]
    assert {a["source_ref"][-6:] for a in accruals} == {"line 1", "line 2"}
    assert all(a["settlement"] == calculated.pk for a in accruals)
    assert "20% of 1,000.00 net" in accruals[-1]["explanation"]
    agreements = api.get("/api/v1/agreements", {"partner": other.partner_id}).json()["results"]
    assert [a["rules"][0]["code"] for a in agreements] == ["platform-20"]
    states = api.get("/api/v1/settlements", {"state": "calculated"}).json()["results"]
    assert [s["id"] for s in states] == [calculated.pk]
    assert api.get("/api/v1/partners", {"kind": "reseller"}).json()["count"] == 2

    for path in ("partners", "agreements", "accruals", "settlements"):
        with CaptureQueriesContext(connection) as few:
            api.get(f"/api/v1/{path}")
        for _ in range(3):
            seller = f.partner()
            f.agreement(of=seller)
            f.invoice(
                sub=f.subscription(buyer=f.customer(), seller=seller),
                on="2026-04-03",
                lines=[f.line("5.00")],
            )
            f.recompute("2026-04-01", seller=seller)
            svc.settlement_open(partner=seller, on=dt.date(2026, 4, 1), currency="USD", actor=alice)
        with CaptureQueriesContext(connection) as many:
            api.get(f"/api/v1/{path}")
        assert len(many) == len(few), path
