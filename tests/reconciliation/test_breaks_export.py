"""Breaks as CSV: the API export and the console download, filtered, every row (not a
page), formula-looking text defused, and one query however many breaks."""

import csv
import io

import pytest

from reconciliation.choices import BreakKind
from reconciliation.export import COLUMNS, breaks_csv
from reconciliation.models import Break
from reconciliation.selectors import break_list
from tests.reconciliation import kpi_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]


def _rows(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_get_breaks_export_answers_csv_of_the_filtered_breaks(api_for_role, finance_ops):
    kpi_data.build(actor=finance_ops)
    api = api_for_role("auditor")

    everything = api.get("/api/v1/reconciliation-runs/breaks/export")
    missing = api.get(
        "/api/v1/reconciliation-runs/breaks/export", {"kind": BreakKind.MISSING_IN_ERP}
    )

    assert everything.status_code == 200
    assert everything["Content-Type"].startswith("text/csv")
    assert "attachment" in everything["Content-Disposition"]
    assert {r["key"] for r in _rows(everything)} == set(Break.objects.values_list("key", flat=True))
    missing_rows = _rows(missing)
    assert [r["kind"] for r in missing_rows] == ["missing_in_erp", "missing_in_erp"]


def test_breaks_export_writes_both_sides_and_the_difference(finance_ops):
    kpi_data.build(actor=finance_ops)

    rows = list(csv.DictReader(io.StringIO("".join(breaks_csv(break_list())))))

    off = next(r for r in rows if r["kind"] == "amount_mismatch")
    assert list(rows[0]) == list(COLUMNS)
    assert (off["billing_number"], off["billing_total_amount"], off["erp_total_amount"]) == (
        "INV-off", "108.0000", "108.5000",
    )  # fmt: skip
    assert (off["difference_amount"], off["difference_currency"]) == ("0.5000", "USD")
    assert off["entity"] == "US01" and off["state"] == "open"


def test_breaks_export_defuses_formula_text(finance_ops):
    kpi_data.build(actor=finance_ops)
    Break.objects.filter(kind=BreakKind.AMOUNT_MISMATCH).update(note="=HYPERLINK(1)")

    rows = list(csv.DictReader(io.StringIO("".join(breaks_csv(break_list())))))

    assert next(r for r in rows if r["kind"] == "amount_mismatch")["note"] == "'=HYPERLINK(1)"


def test_breaks_export_is_one_query_however_many_rows(finance_ops, django_assert_num_queries):
    kpi_data.build(actor=finance_ops)
    with django_assert_num_queries(1):
        few = list(breaks_csv(break_list()))
    for index in range(12):
        kpi_data.invoice(kpi_data.LegalEntityFactory(code="US01"), f"extra-{index}")
    kpi_data.execute(Break.objects.first().entity, finance_ops)

    with django_assert_num_queries(1):
        many = list(breaks_csv(break_list()))

    assert len(many) == len(few) + 12


def test_get_breaks_export_refuses_without_read(api_with_scopes):
    response = api_with_scopes("recon:write").get("/api/v1/reconciliation-runs/breaks/export")

    assert response.status_code == 403


def test_console_break_export_downloads_the_run_breaks(client, finance_ops):
    month = kpi_data.build(actor=finance_ops)
    client.force_login(finance_ops)

    response = client.get(f"/reconciliation/runs/{month.run.pk}/breaks.csv", {"state": "open"})

    assert response.status_code == 200
    assert len(_rows(response)) == 3
    assert 'filename="breaks-open.csv"' in response["Content-Disposition"]


def test_console_break_export_refuses_without_permission(client, make_user):
    client.force_login(make_user("nobody"))

    assert client.get("/reconciliation/breaks.csv").status_code == 403
