"""Breaks as CSV: one row per break with both sides, the difference and its state.

Streamed: the rows are read with one query (`iterator`) and written as they come, so an
export of many breaks holds neither the whole table nor the whole file in memory.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator

from django.db.models import QuerySet

from reconciliation.models import Break

COLUMNS = (
    "id", "entity", "period_start", "period_end", "scope", "kind", "state", "party_code",
    "document_date", "billing_kind", "billing_number", "billing_currency",
    "billing_total_amount", "billing_tax_amount", "billing_status", "erp_external_id",
    "erp_number", "erp_currency", "erp_total_amount", "erp_tax_amount", "erp_status",
    "difference_amount", "difference_currency", "note", "first_seen_run", "last_seen_run",
    "resolved_run", "accepted_at", "resolved_at", "key", "billing_quantity", "erp_quantity",
)  # fmt: skip
# Text a spreadsheet would run as a formula; such cells get a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
TEXT_COLUMNS = {"party_code", "billing_number", "erp_external_id", "erp_number", "note", "key"}


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(name: str, value) -> str:
    if value is None:
        return ""
    text = str(value)
    if name in TEXT_COLUMNS and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def _row(item: Break) -> list[str]:
    values = {
        "entity": item.entity.code,
        "first_seen_run": item.first_seen_run_id,
        "last_seen_run": item.last_seen_run_id,
        "resolved_run": item.resolved_run_id,
        "accepted_at": item.accepted_at.isoformat() if item.accepted_at else None,
        "resolved_at": item.resolved_at.isoformat() if item.resolved_at else None,
    }
    return [
        _cell(name, values[name] if name in values else getattr(item, name)) for name in COLUMNS
    ]


def breaks_csv(breaks: QuerySet[Break] | Iterable[Break]) -> Iterator[str]:
    """The CSV lines (header first) of `breaks` (select_related("entity") keeps it one
    query)."""
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    rows = breaks.iterator(chunk_size=2000) if isinstance(breaks, QuerySet) else breaks
    for item in rows:
        yield writer.writerow(_row(item))


def export_filename(params) -> str:
    parts = ["breaks"] + [
        str(params.get(name)) for name in ("entity", "period_start", "kind", "state")
        if params.get(name)
    ]  # fmt: skip
    name = "-".join(parts)
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name) + ".csv"
