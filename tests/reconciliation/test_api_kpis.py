"""GET /api/v1/kpis: shapes (money as decimal strings per currency), period parsing,
permissions and scopes."""

import pytest

from tests.reconciliation import kpi_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]


def test_get_kpis_answers_figures_with_money_as_strings(api_for_role, finance_ops):
    kpi_data.build(actor=finance_ops)

    response = api_for_role("auditor").get("/api/v1/kpis", {"entity": "US01", "period": "2026-05"})

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["entity"], body["period_start"], body["period_end"]) == (
        "US01", "2026-05-01", "2026-05-31",
    )  # fmt: skip
    assert body["invoice_completeness"] == {"issued": 4, "posted": 3, "share": "0.7500"}
    assert body["unreconciled_value"]["by_currency"] == {"USD": {"breaks": 3, "value": "162.50"}}
    assert body["close_cycle_exceptions"]["blocking"] >= 3


def test_get_kpis_period_start_and_end(api_for_role, finance_ops):
    kpi_data.build(run=False)

    response = api_for_role("auditor").get(
        "/api/v1/kpis", {"entity": "US01", "period_start": "2026-05-10", "period_end": "2026-05-11"}
    )

    assert response.status_code == 200
    assert response.json()["invoice_completeness"]["issued"] == 0


@pytest.mark.parametrize(
    "query",
    [{}, {"entity": "US01", "period": "2026-13"}, {"entity": "US01", "period_start": "2026-05-01"}],
)
def test_get_kpis_bad_query_is_400(api_for_role, query):
    kpi_data.LegalEntityFactory(code="US01")

    response = api_for_role("auditor").get("/api/v1/kpis", query)

    assert response.status_code == 400


def test_get_kpis_needs_the_read_scope(api_with_scopes):
    kpi_data.LegalEntityFactory(code="US01")

    refused = api_with_scopes("events:write").get("/api/v1/kpis", {"entity": "US01"})
    allowed = api_with_scopes("read").get("/api/v1/kpis", {"entity": "US01"})

    assert (refused.status_code, allowed.status_code) == (403, 200)
