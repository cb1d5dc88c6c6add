"""The partner portal: a partner user reads only its own partner's settlements, statements
and accruals, in the console and the API; anything else answers 404 (not 403), so the
existence of another partner's records is never revealed."""

import datetime as dt

import pytest
from django.urls import reverse

from partners.models import Accrual
from tests.partners import factories as f
from tests.partners.test_statement_builders import settle

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_partners(channel):
    """Partners `mine` and `theirs`, each with an approved April settlement and accruals."""
    alice, bob = channel
    out = {}
    for name, amount in (("mine", "1000.00"), ("theirs", "3000.00")):
        seller = f.partner()
        f.agreement(of=seller)
        sub = f.subscription(buyer=f.customer(), seller=seller)
        f.invoice(sub=sub, on="2026-04-02", lines=[f.line(amount)])
        out[name] = settle(seller, dt.date(2026, 4, 1), alice, bob)
    return out


@pytest.fixture
def portal(client, two_partners):
    """A partner-role user of `mine`, signed in."""
    person = f.user("portal-pat", "partner")
    person.partner_code = two_partners["mine"].partner.partner_id
    person.save(update_fields=["partner_code"])
    client.force_login(person)
    return client


CONSOLE_DETAIL = (
    "partners:settlement-detail",
    "partners:statement-page",
    "partners:statement-csv",
    "partners:statement-pdf",
)
API_DETAIL = ("/api/v1/settlements/{}", "/api/v1/settlements/{}/statement.csv",
              "/api/v1/settlements/{}/statement.pdf")  # fmt: skip


def test_partner_user_console_lists_only_own_settlements_and_accruals(portal, two_partners):
    mine, theirs = two_partners["mine"], two_partners["theirs"]

    settlements = portal.get(reverse("partners:settlement-list"))
    accruals = portal.get(reverse("partners:accrual-list"))

    assert settlements.status_code == accruals.status_code == 200
    assert [s.pk for s, _ in settlements.context["rows"]] == [mine.pk]
    assert theirs.partner.partner_id not in settlements.content.decode()
    shown = [a.pk for a in accruals.context["page"]]
    assert shown == list(Accrual.objects.filter(partner=mine.partner).values_list("pk", flat=True))
    assert theirs.partner.partner_id not in accruals.content.decode()


def test_partner_user_console_reads_own_settlement_and_statements(portal, two_partners):
    mine = two_partners["mine"]

    answers = [portal.get(reverse(name, args=[mine.pk])) for name in CONSOLE_DETAIL]

    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert b"200.00 USD" in answers[0].content
    assert b"total,200.00,USD" in answers[2].content


def test_partner_user_console_gets_404_for_another_partners_anything(portal, two_partners):
    theirs = two_partners["theirs"]

    for name in CONSOLE_DETAIL:
        assert portal.get(reverse(name, args=[theirs.pk])).status_code == 404, name
    filtered = portal.get(
        reverse("partners:settlement-list"), {"partner": theirs.partner.partner_id}
    )
    assert list(filtered.context["page"]) == []


def test_partner_user_console_cannot_open_partner_pages_or_run_commands(portal, two_partners):
    mine = two_partners["mine"]

    assert portal.get(reverse("partners:partner-list")).status_code == 403
    assert portal.get(reverse("partners:partner-detail", args=[mine.partner.pk])).status_code == 403
    assert portal.post(reverse("partners:settlement-calculate", args=[mine.pk])).status_code == 403
    page = portal.get(reverse("partners:settlement-detail", args=[mine.pk]))
    assert page.context["commands"] == []


def test_partner_user_api_lists_only_own_settlements_and_accruals(portal, two_partners):
    mine, theirs = two_partners["mine"], two_partners["theirs"]

    settlements = portal.get("/api/v1/settlements").json()["results"]
    accruals = portal.get("/api/v1/accruals").json()["results"]
    filtered = portal.get("/api/v1/settlements", {"partner": theirs.partner.partner_id}).json()

    assert [s["id"] for s in settlements] == [mine.pk]
    assert {a["id"] for a in accruals} == set(
        Accrual.objects.filter(partner=mine.partner).values_list("pk", flat=True)
    )
    assert filtered["results"] == []


def test_partner_user_api_gets_404_for_another_partners_anything(portal, two_partners):
    mine, theirs = two_partners["mine"], two_partners["theirs"]
    their_accrual = Accrual.objects.filter(partner=theirs.partner).first()

    for path in API_DETAIL:
        assert portal.get(path.format(mine.pk)).status_code == 200, path
        assert portal.get(path.format(theirs.pk)).status_code == 404, path
    assert portal.get(f"/api/v1/accruals/{their_accrual.pk}").status_code == 404
    assert portal.post(f"/api/v1/settlements/{theirs.pk}/approve").status_code == 403
    assert portal.get("/api/v1/partners").status_code == 403


def test_partner_user_without_partner_code_sees_nothing(client, two_partners):
    client.force_login(f.user("portal-nobody", "partner"))

    assert client.get("/api/v1/settlements").json()["results"] == []
    assert client.get(reverse("partners:settlement-list")).context["rows"] == []
    mine = two_partners["mine"]
    assert client.get(reverse("partners:settlement-detail", args=[mine.pk])).status_code == 404


def test_channel_manager_still_reads_every_partner(channel, client, two_partners):
    client.force_login(channel[0])

    ids = {s["id"] for s in client.get("/api/v1/settlements").json()["results"]}
    assert ids == {two_partners["mine"].pk, two_partners["theirs"].pk}
    for settlement in two_partners.values():
        assert client.get(f"/api/v1/settlements/{settlement.pk}/statement.csv").status_code == 200
