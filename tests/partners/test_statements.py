"""Statements: frozen at approval (lines, clawbacks, true-ups, rules and rates, totals), then
downloaded as CSV and as a PDF made from the printable page's own template."""

import csv
import io
from decimal import Decimal

import pytest
from django.urls import reverse

from partners.choices import SettlementLineKind
from partners.models import SettlementLine, SettlementStatement
from partners.services import settlements as svc
from partners.statements import statement_csv, statement_html, statement_pdf
from tests.partners.test_statement_builders import calculated, two_months

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_approve_freezes_statement_with_lines_clawback_true_up_rules_and_totals(channel):
    alice, bob = channel
    months = two_months(alice, bob)

    statement = SettlementStatement.objects.get(settlement=months.may)
    data = statement.snapshot
    assert statement.total_amount == months.may.total_amount == Decimal("140.00")
    assert [line["kind"] for line in data["lines"]] == ["clawback", "accrual", "accrual", "true_up"]
    assert [line["amount"] for line in data["lines"]] == ["-100.00", "60.00", "120.00", "60.00"]
    clawback = data["lines"][0]
    april_line = months.april.lines.get()
    assert clawback["refers_to"]["line"] == april_line.pk
    assert clawback["refers_to"]["period_start"] == "2026-04-01"
    assert clawback["rule"] == "platform-20" and clawback["rate"] == "20"
    assert data["totals"] == {
        "accrual": "180.00", "clawback": "-100.00", "true_up": "60.00", "total": "140.00",
    }  # fmt: skip
    assert {rule["code"] for rule in data["rules"]} == {"platform-20", "addon-tiers"}
    tiers = next(rule for rule in data["rules"] if rule["code"] == "addon-tiers")["tiers"]
    assert [t["rate"] for t in tiers] == ["10", "20"]


def test_frozen_statement_does_not_change_when_lines_change_later(channel):
    alice, bob = channel
    months = two_months(alice, bob)
    before = SettlementStatement.objects.get(settlement=months.may).snapshot

    SettlementLine.objects.filter(settlement=months.may).update(explanation="rewritten")

    statement = SettlementStatement.objects.get(settlement=months.may)
    assert statement.snapshot == before
    assert "rewritten" not in statement_csv(statement)


def test_approval_refused_as_four_eyes_writes_no_statement(channel):
    alice, _ = channel
    settlement = calculated(alice)
    svc.settlement_submit(settlement=settlement, actor=alice)

    with pytest.raises(svc.SettlementError):
        svc.settlement_approve(settlement=settlement, actor=alice)

    assert not SettlementStatement.objects.exists()


def test_statement_csv_lists_lines_with_the_clawback_reference_and_totals(channel):
    alice, bob = channel
    months = two_months(alice, bob)
    statement = SettlementStatement.objects.get(settlement=months.may)

    rows = list(csv.reader(io.StringIO(statement_csv(statement))))

    header = next(i for i, row in enumerate(rows) if row[:2] == ["line", "kind"])
    assert rows[header][9:11] == ["refers_to_line", "refers_to_period"]
    lines = rows[header + 1 : header + 5]
    assert [(r[1], r[7]) for r in lines] == [
        ("clawback", "-100.00"), ("accrual", "60.00"), ("accrual", "120.00"), ("true_up", "60.00"),
    ]  # fmt: skip
    assert lines[0][9] == str(months.april.lines.get().pk) and lines[0][10] == "2026-04-01"
    assert ["total", "140.00", "USD"] in rows
    assert sum(Decimal(r[7]) for r in lines) == Decimal("140.00")


def test_printable_page_and_pdf_come_from_the_same_template_and_show_the_total(channel):
    alice, bob = channel
    months = two_months(alice, bob)
    statement = SettlementStatement.objects.get(settlement=months.may)

    html = statement_html(statement)
    text = pdf_text(statement_pdf(statement))

    for shown in ("Partner statement", months.seller.partner_id, "140.00 USD", "platform-20",
                  "addon-tiers", "Clawbacks", "True-ups", "Rules and rates applied"):  # fmt: skip
        assert shown in html
        assert shown in text
    assert f"statement line {months.april.lines.get().pk} of 2026-04" in " ".join(text.split())


def test_console_statement_downloads_answer_csv_and_pdf(channel, client):
    alice, bob = channel
    months = two_months(alice, bob)
    client.force_login(alice)

    page = client.get(reverse("partners:statement-page", args=[months.may.pk]))
    as_csv = client.get(reverse("partners:statement-csv", args=[months.may.pk]))
    as_pdf = client.get(reverse("partners:statement-pdf", args=[months.may.pk]))

    assert page.status_code == 200 and b"140.00 USD" in page.content
    assert as_csv["Content-Type"] == "text/csv"
    assert "attachment" in as_csv["Content-Disposition"]
    assert b"total,140.00,USD" in as_csv.content
    assert as_pdf["Content-Type"] == "application/pdf"
    assert "140.00 USD" in pdf_text(as_pdf.content)


def test_statement_of_settlement_not_approved_answers_404(channel, client):
    alice, _ = channel
    settlement = calculated(alice)
    client.force_login(alice)

    for name in ("partners:statement-page", "partners:statement-csv", "partners:statement-pdf"):
        assert client.get(reverse(name, args=[settlement.pk])).status_code == 404


def test_api_statement_downloads_answer_csv_and_pdf(channel, client):
    alice, bob = channel
    months = two_months(alice, bob)
    client.force_login(alice)

    as_csv = client.get(f"/api/v1/settlements/{months.may.pk}/statement.csv")
    as_pdf = client.get(f"/api/v1/settlements/{months.may.pk}/statement.pdf")

    assert as_csv.status_code == 200 and b"total,140.00,USD" in as_csv.content
    assert as_pdf.status_code == 200 and "140.00 USD" in pdf_text(as_pdf.content)


def test_line_kinds_are_those_of_the_settlement_lines(channel):
    alice, bob = channel
    months = two_months(alice, bob)
    kinds = list(months.may.lines.order_by("id").values_list("kind", flat=True))
    statement = SettlementStatement.objects.get(settlement=months.may)
    assert [line["kind"] for line in statement.snapshot["lines"]] == kinds
    assert SettlementLineKind.TRUE_UP in kinds
