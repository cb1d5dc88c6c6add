"""One visual language: money through Babel in the active locale, one date-time format in
the person's time zone, codes as words; styled 403/404 pages; a 403 logs one line."""

import datetime as dt
import json
import logging
from decimal import Decimal
from itertools import pairwise

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from config.console_tags import day, label, when
from config.money_tags import money, number

MOMENT = dt.datetime(2026, 5, 14, 10, 0, 30, tzinfo=dt.UTC)


def test_money_follows_the_active_locale():
    with translation.override("de"):
        assert money(Decimal("1234567.5"), "EUR") == "1.234.567,50 EUR"
        assert number(Decimal("1234.5")) == "1.234,5"
    with translation.override("en"):
        assert money(Decimal("1234567.5"), "EUR") == "1,234,567.50 EUR"


def test_money_without_currency_is_a_grouped_number():
    assert money(Decimal("1234.5000"), "") == "1,234.5"
    assert money(None, "USD") == ""


def test_when_shows_one_format_in_the_current_time_zone():
    with timezone.override("Europe/Berlin"):
        shown = when(MOMENT)
    assert shown == '<time datetime="2026-05-14T10:00:30+00:00">2026-05-14 12:00 CEST</time>'
    with timezone.override("UTC"):
        assert "2026-05-14 10:00 UTC" in when(MOMENT)
    assert when(None) == ""
    assert when(dt.date(2026, 5, 14)) == "2026-05-14"


def test_day_and_label():
    assert day(dt.date(2026, 1, 2)) == "2026-01-02"
    with timezone.override("Asia/Tokyo"):
        assert day(dt.datetime(2026, 1, 1, 20, 0, tzinfo=dt.UTC)) == "2026-01-02"
    assert label("awaiting_parent") == "Awaiting parent"
    assert label("invoice.issued") == "Invoice issued"
    assert label("") == ""


def test_filters_are_built_in_without_load():
    rendered = Template("{{ a|money:'USD' }} · {{ t|when }}").render(
        Context({"a": Decimal("9876.5"), "t": MOMENT})
    )
    assert rendered.startswith("9,876.50 USD · <time")


@pytest.mark.django_db
def test_pages_show_times_in_the_persons_time_zone(client, make_user):
    from tests.erp_sync.factories import FinanceEventFactory

    FinanceEventFactory(received_at=MOMENT)
    person = make_user("tokyo", "auditor", time_zone="Asia/Tokyo")
    client.force_login(person)

    page = client.get("/billing/events/").content.decode()

    assert "2026-05-14 19:00 JST" in page


@pytest.mark.django_db
def test_403_page_says_why_and_logs_one_line(client, role_users, caplog):
    client.force_login(role_users["partner"])
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/billing/events/")

    page = response.content.decode()
    assert response.status_code == 403
    assert 'data-testid="error-403"' in page
    assert "partner-user" in page and "the role partner" in page
    assert 'href="/"' in page  # navigation back
    refusals = [r for r in caplog.records if r.name == "django.request"]
    assert len(refusals) == 1
    assert refusals[0].exc_info is None
    formatter = logging.getLogger().handlers[0].formatter
    if formatter is not None:
        line = formatter.format(refusals[0])
        assert "\n" not in line
        assert "Traceback" not in json.dumps(line)


@pytest.mark.django_db
def test_404_page_says_what_is_missing(client, role_users):
    client.force_login(role_users["auditor"])

    missing_record = client.get("/billing/invoices/no-such-invoice/")
    missing_page = client.get("/billing/nowhere/")

    assert missing_record.status_code == 404
    assert "There is no such invoice" in missing_record.content.decode()
    assert 'data-testid="error-404"' in missing_page.content.decode()
    assert "/billing/nowhere/" in missing_page.content.decode()


def _filtersets():
    import inspect

    import django_filters

    from billing import filters as billing
    from erp_sync import filters as erp_sync
    from exceptions import filters as exceptions
    from partners import filters as partners
    from reconciliation import filters as reconciliation

    for module in (billing, erp_sync, exceptions, partners, reconciliation):
        for _name, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, django_filters.FilterSet) and cls.__module__ == module.__name__:
                yield cls


@pytest.mark.django_db
def test_filter_bar_labels_are_written_for_people():
    for filterset in _filtersets():
        for field in filterset(None).form:
            words = str(field.label).lower().split()
            assert all(a != b for a, b in pairwise(words)), field.label
            assert "erp" not in str(field.label).split()[0].lower() or "ERP" in str(field.label)
            assert (
                not str(field.label).endswith((" id", " code"))
                or "Correlation" in str(field.label)
                or "error code" in str(field.label)
                or "External" in str(field.label)
            ), (
                filterset.__name__,
                field.label,
            )


def test_500_page_renders_without_a_request_and_says_what_to_do():
    from django.template import loader

    page = loader.get_template("500.html").render()

    assert 'data-testid="error-500"' in page
    assert "not because of anything you did" in page
    assert 'href="/"' in page
