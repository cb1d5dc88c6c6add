"""Partner and agreement pages, and the query bound of every partners list page: as many
queries for many rows as for a few."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from partners.models import Accrual, Partner, Settlement
from partners.services.agreements import agreement_version_create
from tests.partners import factories as f

pytestmark = pytest.mark.django_db

TIERS = [
    {"lower_amount": "0", "upper_amount": "1000", "rate_percent": "10"},
    {"lower_amount": "1000", "upper_amount": None, "rate_percent": "20"},
]


def _rows(n: int, *, start: int) -> None:
    """`n` partners, each with an agreement, an accrual and a settlement (ORM, no events)."""
    for i in range(start, start + n):
        seller = Partner.objects.create(
            partner_id=f"p-{i}", name=f"P {i}", kind="reseller", country="US", currency="USD"
        )
        agreement = f.agreement(of=seller, rules=[f.rule(rate_percent="20")])
        Accrual.objects.create(
            partner=seller, agreement=agreement, rule=agreement.rules.get(),
            source_kind="invoice_line", source_key=f"invoice_line:{i}", source_ref=f"INV-{i} l1",
            accrued_on=dt.date(2026, 4, 2), period_start=dt.date(2026, 4, 1),
            period_end=dt.date(2026, 4, 30), rate=Decimal(20), basis_amount=Decimal(100),
            amount=Decimal(20), currency="USD", explanation="20% of 100.00",
        )  # fmt: skip
        Settlement.objects.create(
            partner=seller, period_start=dt.date(2026, 4, 1), period_end=dt.date(2026, 4, 30),
            currency="USD", state="calculated" if i % 2 else "submitted",
            total_amount=Decimal(20),
        )  # fmt: skip


@pytest.mark.parametrize(
    "name", ["partners:partner-list", "partners:settlement-list", "partners:accrual-list"]
)
def test_list_page_query_count_does_not_grow_with_rows(
    name, channel, client, django_assert_max_num_queries
):
    client.force_login(channel[0])
    _rows(2, start=0)
    with CaptureQueriesContext(connection) as few:
        assert client.get(reverse(name)).status_code == 200
    _rows(12, start=100)

    with django_assert_max_num_queries(len(few.captured_queries)):
        answer = client.get(reverse(name))

    assert answer.context["page"].paginator.count == 14


def test_partner_detail_query_count_does_not_grow_with_agreements_and_attribution(
    channel, client, django_assert_max_num_queries
):
    client.force_login(channel[0])
    seller = f.partner()
    agreement = f.agreement(
        of=seller, rules=[f.rule("a", rate_percent="10"), f.rule("b", rate_percent="5")]
    )
    f.subscription(buyer=f.customer(), seller=seller)
    url = reverse("partners:partner-detail", args=[seller.pk])
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(3):
        agreement = agreement_version_create(agreement=agreement, actor=None)
        f.subscription(buyer=f.customer(), seller=seller)

    with django_assert_max_num_queries(len(few.captured_queries)):
        answer = client.get(url)

    assert len(answer.context["agreements"]) == 4
    assert len(answer.context["attributions"]) == 4


def test_partner_detail_shows_agreement_versions_and_attribution(channel, client):
    client.force_login(channel[0])
    seller = f.partner()
    agreement = f.agreement(of=seller)
    newer = agreement_version_create(agreement=agreement, actor=None)
    sub = f.subscription(buyer=f.customer(), seller=seller)

    html = client.get(reverse("partners:partner-detail", args=[seller.pk])).content.decode()

    assert reverse("partners:agreement-detail", args=[agreement.pk]) in html
    assert reverse("partners:agreement-detail", args=[newer.pk]) in html
    assert "v1" in html and "v2" in html and "Superseded" in html
    assert sub.subscription_id in html and sub.customer.customer_id in html


def test_agreement_detail_shows_rules_tiers_and_versions(channel, client):
    client.force_login(channel[0])
    seller = f.partner()
    agreement = f.agreement(
        of=seller,
        rules=[f.rule("tiers", "tiered", tiers=TIERS), f.rule("cap", "cap", cap_amount="500")],
    )
    newer = agreement_version_create(agreement=agreement, actor=None)

    html = client.get(reverse("partners:agreement-detail", args=[newer.pk])).content.decode()

    assert "Tiered percent by period volume" in html
    assert "0.00 USD–1,000.00 USD: 10%" in html and "1,000.00 USD–∞: 20%" in html
    assert ">500.00 USD<" in html
    assert reverse("partners:agreement-detail", args=[agreement.pk]) in html


@pytest.mark.parametrize(
    "name", ["partners:partner-detail", "partners:agreement-detail", "partners:settlement-detail"]
)
def test_unknown_object_answers_404(name, channel, client):
    client.force_login(channel[0])
    assert client.get(reverse(name, args=[999999])).status_code == 404


def test_navigation_shows_settlements_to_channel_and_partner_users(channel, client):
    client.force_login(channel[0])
    labels = [i["label"] for i in client.get("/").context["navigation"]]
    assert {"Partners", "Settlements", "Accruals"} <= set(labels)

    client.force_login(f.user("pat", "partner"))
    labels = [i["label"] for i in client.get("/").context["navigation"]]
    assert "Settlements" in labels and "Partners" not in labels


def test_every_partners_page_needs_sign_in(client):
    for name in ("partners:partner-list", "partners:settlement-list", "partners:accrual-list"):
        answer = client.get(reverse(name))
        assert answer.status_code == 302 and "/accounts/login/" in answer["Location"]
