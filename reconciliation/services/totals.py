"""Breaks of the usage and partners scopes, from a run's TotalsRows.

A break names its subject (`<kind>|<scope>:<subject>|<period start>|<currency>`), so a
re-run updates it and a subject that agrees again resolves it (breaks.breaks_write). The
expected side (usage recorded, accrued) fills the break's billing columns, the actual side
(usage invoiced, settled) the ERP columns: Break.side_labels names them per scope.
"""

from __future__ import annotations

from reconciliation.choices import RunScope
from reconciliation.models import ReconciliationRun, TotalsRow
from reconciliation.services.breaks import breaks_write, empty_values
from reconciliation.services.totals_sql import totals_breaks_found

# What a side of each scope is in the break's "kind" column.
SIDE_KIND = {RunScope.USAGE: ("usage", "usage"), RunScope.PARTNERS: ("accrual", "settlement")}


def totals_key(kind: str, row: TotalsRow, scope: str) -> str:
    return f"{kind}|{scope}:{row.subject}|{row.subject_start:%Y-%m-%d}|{row.currency}"[:255]


def totals_values(kind: str, row: TotalsRow, scope: str) -> dict:
    """Both sides' totals and the difference (actual minus expected) of one subject."""
    values = empty_values()
    expected_kind, _ = SIDE_KIND[scope]
    values.update(
        party_code=row.party_code,
        document_date=row.subject_start,
        billing_kind=expected_kind,
        difference_amount=row.actual_amount - row.expected_amount,
        difference_currency=row.currency,
    )
    if row.expected_count:
        values.update(
            billing_number=row.subject,
            billing_currency=row.currency,
            billing_total_amount=row.expected_amount,
            billing_quantity=row.expected_quantity,
        )
    if row.actual_count:
        values.update(
            erp_number=row.subject,
            erp_currency=row.currency,
            erp_total_amount=row.actual_amount,
            erp_quantity=row.actual_quantity,
        )
    return values


def totals_breaks_record(*, run: ReconciliationRun, actor) -> int:
    """Classify the run's TotalsRows and write the breaks; returns how many."""
    findings = totals_breaks_found(run)
    rows = TotalsRow.objects.in_bulk([row_id for _, row_id in findings])
    found: dict[str, tuple[str, dict]] = {}
    for kind, row_id in findings:
        row = rows[row_id]
        found[totals_key(kind, row, run.scope)] = (kind, totals_values(kind, row, run.scope))
    return breaks_write(run=run, found=found, actor=actor)
