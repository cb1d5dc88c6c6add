"""Console pages show money in its currency's minor units with its code and thousands
separators, and paging keeps the filters."""

from decimal import Decimal

import pytest
from django.template import Context, Template

from config.money_tags import money, number
from tests.billing.factories import CustomerFactory, InvoiceFactory, LegalEntityFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (Decimal("1250.5000"), "USD", "1,250.50 USD"),
        (Decimal("12.3450"), "KWD", "12.345 KWD"),  # three minor units, not rounded to two
        (Decimal("1500.0000"), "JPY", "1,500 JPY"),  # none
        (Decimal("-0.0100"), "EUR", "-0.01 EUR"),
        (Decimal("1234567.891"), "USD", "1,234,567.89 USD"),
        (Decimal("7.1234"), "XXX", "7.1234 XXX"),  # not a currency: shown as stored
        (None, "USD", ""),
    ],
)
def test_money_filter_uses_the_currency_minor_units(amount, currency, shown):
    assert money(amount, currency) == shown


def test_number_filter_is_exact_without_trailing_zeros():
    assert number(Decimal("0.01250000")) == "0.0125"
    assert number(Decimal("40.0000")) == "40"
    assert number(Decimal("0.00001000")) == "0.00001"
    assert number(Decimal("12500.50")) == "12,500.5"


def test_money_filter_loads_in_templates():
    rendered = Template("{% load money %}{{ a|money:'KWD' }}").render(
        Context({"a": Decimal("1.5")})
    )
    assert rendered == "1.500 KWD"


def test_invoice_pages_show_kwd_with_three_places(client, role_users):
    entity = LegalEntityFactory(code="KW01", currency="KWD", country="KW")
    invoice = InvoiceFactory(
        customer=CustomerFactory(entity=entity),
        currency="KWD",
        subtotal_amount=Decimal("12.345"),
        total_amount=Decimal("12.345"),
    )
    client.force_login(role_users["auditor"])
    detail = client.get(f"/billing/invoices/{invoice.invoice_id}/").content.decode()
    listing = client.get("/billing/invoices/").content.decode()
    assert "12.345 KWD" in detail
    assert "12.345 KWD" in listing
    assert "12.35" not in detail + listing


def test_paging_a_filtered_list_keeps_the_filter(client, role_users):
    entity = LegalEntityFactory(code="KW01", currency="KWD", country="KW")
    customer = CustomerFactory(entity=entity)
    for _ in range(51):  # one more than a page
        InvoiceFactory(customer=customer, currency="KWD")
    client.force_login(role_users["auditor"])
    first = client.get("/billing/invoices/", {"entity": "KW01"})
    assert first.context["page"].paginator.num_pages == 2
    assert "entity=KW01&amp;page=2" in first.content.decode()
    second = client.get("/billing/invoices/", {"entity": "KW01", "page": 2})
    assert len(second.context["page"].object_list) == 1
