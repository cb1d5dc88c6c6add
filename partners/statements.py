"""Partner statements: frozen at approval, then rendered as CSV, a printable page and a PDF.

`statement_freeze` is called by `settlement_approve` inside its transaction. The printable
HTML page and the PDF come from one template (`partners/statement.html`): WeasyPrint renders
the same HTML that the browser shows, with the same stylesheet, so the two never disagree.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal

from django.contrib.staticfiles import finders
from django.http import HttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from config.money import quantize
from partners.choices import SettlementLineKind
from partners.models import CommissionRule, Settlement, SettlementLine, SettlementStatement

TEMPLATE = "partners/statement.html"
STYLESHEET = "css/statement.css"


def _text(value) -> str | None:
    return None if value is None else format(value, "f")


def _rate(value) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _money(value, currency: str) -> str | None:
    return None if value is None else format(quantize(value, currency), "f")


def _line_row(line: SettlementLine, cur: str) -> dict:
    accrual = line.accrual
    refers = line.refers_to
    return {
        "line": line.pk,
        "kind": line.kind,
        "source_kind": accrual.source_kind if accrual else "",
        "source_ref": line.source_ref,
        "agreement": str(accrual.agreement) if accrual else "",
        "rule": accrual.rule.code if accrual else "",
        "rate": _rate(accrual.rate) if accrual else None,
        "basis": _money(accrual.basis_amount, cur) if accrual else None,
        "amount": _money(line.amount, cur),
        "explanation": line.explanation,
        "refers_to": None
        if refers is None
        else {
            "line": refers.pk,
            "settlement": refers.settlement_id,
            "period_start": refers.settlement.period_start.isoformat(),
            "source_ref": refers.source_ref,
            "amount": _money(refers.amount, cur),
        },
    }


def _rule_row(rule: CommissionRule, cur: str) -> dict:
    return {
        "agreement": str(rule.agreement),
        "code": rule.code,
        "kind": rule.kind,
        "kind_label": rule.get_kind_display(),
        "rate_percent": _rate(rule.rate_percent),
        "unit_amount": _text(rule.unit_amount),
        "threshold_amount": _money(rule.threshold_amount, cur),
        "cap_amount": _money(rule.cap_amount, cur),
        "floor_amount": _money(rule.floor_amount, cur),
        "tier_mode": rule.agreement.get_tier_mode_display(),
        "product_families": list(rule.product_families),
        "countries": list(rule.countries),
        "tiers": [
            {
                "lower": _money(t.lower_amount, cur),
                "upper": _money(t.upper_amount, cur),
                "rate": _rate(t.rate_percent),
            }
            for t in rule.tiers.all()
        ],
    }


def statement_snapshot(settlement: Settlement) -> dict:
    """The statement of `settlement` as JSON-ready data (amounts as decimal strings)."""
    lines = list(
        SettlementLine.objects.filter(settlement=settlement)
        .select_related("accrual__rule", "accrual__agreement", "refers_to__settlement")
        .order_by("id")
    )
    rule_ids = {line.accrual.rule_id for line in lines if line.accrual is not None}
    rules = (
        CommissionRule.objects.filter(pk__in=rule_ids)
        .select_related("agreement")
        .prefetch_related("tiers")
        .order_by("agreement__effective_from", "agreement__version", "id")
    )
    cur = settlement.currency
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        totals[line.kind] += line.amount
    total = sum(totals.values(), Decimal(0))
    partner = settlement.partner
    return {
        "settlement": settlement.pk,
        "partner": {"partner_id": partner.partner_id, "name": partner.name},
        "period_start": settlement.period_start.isoformat(),
        "period_end": settlement.period_end.isoformat(),
        "currency": cur,
        "submitted_by": settlement.submitted_by.get_username() if settlement.submitted_by else "",
        "approved_by": settlement.approved_by.get_username() if settlement.approved_by else "",
        "approved_at": settlement.approved_at.isoformat() if settlement.approved_at else "",
        "lines": [_line_row(line, cur) for line in lines],
        "rules": [_rule_row(rule, cur) for rule in rules],
        "totals": {kind: _money(totals[kind], cur) for kind in SettlementLineKind.values}
        | {"total": _money(total, cur)},
    }


def statement_freeze(*, settlement: Settlement) -> SettlementStatement:
    """Write the frozen statement of an approved settlement (the caller's transaction)."""
    snapshot = statement_snapshot(settlement)
    return SettlementStatement.objects.create(
        settlement=settlement,
        frozen_at=timezone.now(),
        total_amount=Decimal(snapshot["totals"]["total"]),
        currency=settlement.currency,
        snapshot=snapshot,
    )


# --- rendering ---------------------------------------------------------------------------

KIND_LABELS = dict(SettlementLineKind.choices)


def statement_context(statement: SettlementStatement) -> dict:
    data = statement.snapshot
    lines = [
        line | {"kind_label": KIND_LABELS.get(line["kind"], line["kind"])} for line in data["lines"]
    ]
    return {
        "statement": statement,
        "data": data,
        "lines": lines,
        "clawbacks": [line for line in lines if line["kind"] == SettlementLineKind.CLAWBACK],
        "true_ups": [line for line in lines if line["kind"] == SettlementLineKind.TRUE_UP],
        "totals": [
            (KIND_LABELS[kind], data["totals"].get(kind)) for kind in SettlementLineKind.values
        ],
    }


def statement_html(statement: SettlementStatement, *, for_pdf: bool = False, request=None) -> str:
    context = statement_context(statement) | {"for_pdf": for_pdf}
    return render_to_string(TEMPLATE, context, request=request)


def statement_pdf(statement: SettlementStatement) -> bytes:
    """The PDF of the statement: WeasyPrint over the printable page's own HTML and CSS."""
    from weasyprint import CSS, HTML  # imported here: it loads Pango at import time

    html = statement_html(statement, for_pdf=True)
    return HTML(string=html).write_pdf(stylesheets=[CSS(filename=finders.find(STYLESHEET))])


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def statement_csv(statement: SettlementStatement) -> str:
    data = statement.snapshot
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["partner", data["partner"]["partner_id"], _cell(data["partner"]["name"])])
    writer.writerow(["period", data["period_start"], data["period_end"], data["currency"]])
    writer.writerow([])
    writer.writerow(
        ["line", "kind", "source", "agreement", "rule", "rate", "basis", "amount", "currency",
         "refers_to_line", "refers_to_period", "explanation"]
    )  # fmt: skip
    for line in data["lines"]:
        refers = line["refers_to"] or {}
        writer.writerow(
            [line["line"], line["kind"], _cell(line["source_ref"]), _cell(line["agreement"]),
             _cell(line["rule"]), line["rate"] or "", line["basis"] or "", line["amount"],
             data["currency"], refers.get("line", ""), refers.get("period_start", ""),
             _cell(line["explanation"])]
        )  # fmt: skip
    writer.writerow([])
    writer.writerow(["rule", "agreement", "kind", "rate_percent", "unit_amount", "tiers"])
    for rule in data["rules"]:
        tiers = "; ".join(f"{t['lower']}-{t['upper'] or ''}: {t['rate']}%" for t in rule["tiers"])
        writer.writerow(
            [_cell(rule["code"]), _cell(rule["agreement"]), rule["kind"],
             rule["rate_percent"] or "", rule["unit_amount"] or "", tiers]
        )  # fmt: skip
    writer.writerow([])
    for kind, amount in data["totals"].items():
        writer.writerow(["total" if kind == "total" else f"total {kind}", amount, data["currency"]])
    return out.getvalue()


def filename(statement: SettlementStatement) -> str:
    data = statement.snapshot
    return f"statement-{data['partner']['partner_id']}-{data['period_start']}-{data['currency']}"


def download(statement: SettlementStatement, kind: str) -> HttpResponse:
    """The statement as an attachment: kind "csv" or "pdf"."""
    if kind == "csv":
        answer = HttpResponse(statement_csv(statement), content_type="text/csv")
    else:
        answer = HttpResponse(statement_pdf(statement), content_type="application/pdf")
    answer["Content-Disposition"] = f'attachment; filename="{filename(statement)}.{kind}"'
    return answer
