"""Console pages of the KPIs and the close checklist, the dashboard's KPI panel, and the
navigation entry."""

import pytest
from django.urls import reverse

from tests.reconciliation import kpi_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]


@pytest.fixture
def signed_in(client, make_user):
    client.force_login(make_user("aud", "auditor"))
    return client


def test_kpi_page_shows_the_entity_period_figures(signed_in, finance_ops):
    kpi_data.build(actor=finance_ops)

    page = signed_in.get(reverse("reconciliation:kpis"), {"entity": "US01", "period": "2026-05"})

    text = page.content.decode()
    assert page.status_code == 200
    assert 'data-kpi="invoice_completeness">3 / 4 (0.75)' in text
    assert "162.50 USD (3)" in text  # unreconciled value of the three open breaks


def test_kpi_page_bad_period_says_so(signed_in, finance_ops):
    kpi_data.LegalEntityFactory(code="US01")

    page = signed_in.get(reverse("reconciliation:kpis"), {"entity": "US01", "period": "2026-5"})

    assert page.status_code == 200
    assert "a period is a month" in page.content.decode()
    assert 'data-testid="kpi-table"' not in page.content.decode()


def test_kpi_panel_shows_connected_entities_last_month(signed_in, finance_ops):
    kpi_data.build(run=False)

    panel = signed_in.get(reverse("reconciliation:kpi-panel"))

    assert panel.status_code == 200
    assert 'data-entity="US01"' in panel.content.decode()


def test_home_includes_the_kpi_panel_for_readers(signed_in, client, make_user):
    page = signed_in.get(reverse("console-home")).content.decode()
    client.force_login(make_user("nobody"))
    other = client.get(reverse("console-home")).content.decode()

    assert reverse("reconciliation:kpi-panel") in page
    assert reverse("reconciliation:kpi-panel") not in other


def test_navigation_lists_reconciliation_for_readers_only(signed_in, client, make_user):
    page = signed_in.get(reverse("console-home")).content.decode()
    client.force_login(make_user("nobody"))
    other = client.get(reverse("console-home")).content.decode()

    assert f'href="{reverse("reconciliation:run-list")}"' in page
    assert f'href="{reverse("reconciliation:run-list")}"' not in other


def test_close_checklist_page_lists_items_with_links(signed_in, finance_ops):
    month = kpi_data.build(actor=finance_ops)

    page = signed_in.get(
        reverse("reconciliation:close-checklist"), {"entity": "US01", "period": "2026-05"}
    ).content.decode()

    assert 'data-item="reconciliation_clean"' in page
    assert "3 blocking" in page
    assert f"/reconciliation/runs/{month.run.pk}/" not in page  # links go to the breaks
    assert "/reconciliation/breaks/?entity=US01" in page


@pytest.mark.parametrize(
    "name", ["reconciliation:kpis", "reconciliation:kpi-panel", "reconciliation:close-checklist"]
)
def test_report_pages_without_permission_are_403(client, make_user, name):
    client.force_login(make_user("nobody"))

    assert client.get(reverse(name)).status_code == 403
