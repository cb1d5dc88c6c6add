"""The Tryton adapter's listing for reconciliation: the company's invoices and moves, paged.

What is listed, for the adapter's company (the connection's: one connection serves one legal
entity, so the company IS the entity; the domain names it, not only the context):

- `account.invoice` of both types dated (invoice_date) in the period, in every state (draft,
  validated, posted, paid, cancelled): out → invoice / credit_note, in → supplier_bill /
  supplier_credit_note (a negative total is a credit; amounts are reported positive).
  external_id = `reference` (where Concord posts its external id), reference = `description`
  (Concord writes the source number there for invoices and credit notes), net = untaxed.
- `account.move` dated in the period with a `description` (where Concord posts its external
  id: moves have no reference field), outside the invoices' own revenue/expense journals:
  a move whose origin is an invoice is a payment (the pay wizard's move; its parent is the
  invoice's reference), else by journal type: cash → refund, write-off → write_off,
  general → settlement. total = the move's debits (or its second-currency amount when
  every line has one), tax 0, state draft/posted; Tryton holds no source number for them.

Pages: invoices then moves, each by id (`id > last`, `limit`), so the listing is stable and
holds one page at a time; lines, parents and the company currency are read per page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal

from erp_sync.adapters.base import ListedDocument

INVOICE_FIELDS = [
    "type",
    "number",
    "reference",
    "description",
    "state",
    "currency.code",
    "untaxed_amount",
    "tax_amount",
    "total_amount",
    "invoice_date",
    "accounting_date",
    "party.code",
]
MOVE_FIELDS = ["number", "description", "date", "state", "origin", "journal.type"]
MOVE_KIND_BY_JOURNAL = {"cash": "refund", "write-off": "write_off", "general": "settlement"}
INVOICE_KIND = {("out", 1): "invoice", ("out", -1): "credit_note"}
INVOICE_KIND |= {("in", 1): "supplier_bill", ("in", -1): "supplier_credit_note"}


def document_pages(
    adapter, period_start: dt.date, period_end: dt.date, page_size: int
) -> Iterator[list[ListedDocument]]:
    """The adapter's company's invoices, then its moves, `page_size` at a time."""
    company = adapter._company_id()
    invoices = [
        ("company", "=", company),
        ("invoice_date", ">=", period_start),
        ("invoice_date", "<=", period_end),
    ]
    for rows in _pages(adapter, "account.invoice", invoices, INVOICE_FIELDS, page_size):
        yield [_invoice(row) for row in rows]
    moves = [
        ("company", "=", company),
        ("date", ">=", period_start),
        ("date", "<=", period_end),
        ("description", "!=", None),
        ("description", "!=", ""),
        ("journal.type", "in", list(MOVE_KIND_BY_JOURNAL)),
    ]
    for rows in _pages(adapter, "account.move", moves, MOVE_FIELDS, page_size):
        yield _moves(adapter, rows)


def _pages(adapter, model: str, domain: list, fields: list[str], size: int) -> Iterator[list]:
    after = 0
    while True:
        rows = adapter._model(
            model, "search_read", [*domain, ("id", ">", after)], 0, size, [("id", "ASC")], fields
        )
        if rows:
            yield rows
        if len(rows) < size:
            return
        after = rows[-1]["id"]


def _code(row: dict, name: str) -> str:
    return (row.get(f"{name}.") or {}).get("code") or ""


def _invoice(row: dict) -> ListedDocument:
    total = Decimal(row["total_amount"])
    sign = -1 if total < 0 else 1
    return ListedDocument(
        external_id=row["reference"] or "",
        kind=INVOICE_KIND[row["type"], sign],
        number=row["number"] or "",
        currency=_code(row, "currency"),
        total=abs(total),
        tax_total=abs(Decimal(row["tax_amount"])),
        net_total=abs(Decimal(row["untaxed_amount"])),
        document_date=row["invoice_date"],
        accounting_date=row["accounting_date"],
        party_code=_code(row, "party"),
        state=row["state"],
        reference=row["description"] or "",
    )


def _moves(adapter, rows: list[dict]) -> list[ListedDocument]:
    lines = adapter._model(
        "account.move.line",
        "search_read",
        [("move", "in", [row["id"] for row in rows])],
        0,
        None,
        [("id", "ASC")],
        ["move", "debit", "amount_second_currency", "second_currency.code", "party.code"],
    )
    by_move: dict[int, list[dict]] = {}
    for line in lines:
        by_move.setdefault(line["move"], []).append(line)
    parents = _invoice_references(adapter, rows)
    company_currency = _company_currency(adapter)
    listed = []
    for row in rows:
        move_lines = by_move.get(row["id"], [])
        origin = row["origin"] or ""
        if origin.startswith("account.invoice,"):
            kind = "payment"
        else:
            kind = MOVE_KIND_BY_JOURNAL[(row.get("journal.") or {}).get("type")]
        currency, total = _amount(move_lines, company_currency)
        party = next((_code(line, "party") for line in move_lines if _code(line, "party")), "")
        listed.append(
            ListedDocument(
                external_id=row["description"] or "",
                kind=kind,
                number=row["number"] or "",
                currency=currency,
                total=total,
                tax_total=Decimal(0),
                net_total=total,
                document_date=row["date"],
                party_code=party,
                state=row["state"],
                parent_external_id=parents.get(origin, ""),
            )
        )
    return listed


def _amount(lines: list[dict], company_currency: str) -> tuple[str, Decimal]:
    """(currency, total) of a move: its debits, or its positive second-currency amounts when
    every line carries one (a foreign-currency payment)."""
    if lines and all(line["amount_second_currency"] is not None for line in lines):
        amounts = [Decimal(line["amount_second_currency"]) for line in lines]
        return _code(lines[0], "second_currency"), sum((a for a in amounts if a > 0), Decimal(0))
    return company_currency, sum((Decimal(line["debit"]) for line in lines), Decimal(0))


def _invoice_references(adapter, rows: list[dict]) -> dict[str, str]:
    """origin ("account.invoice,<id>") → that invoice's reference, for the page's moves."""
    ids = sorted(
        {
            int(row["origin"].split(",", 1)[1])
            for row in rows
            if (row["origin"] or "").startswith("account.invoice,")
        }
    )
    if not ids:
        return {}
    found = adapter._model(
        "account.invoice", "search_read", [("id", "in", ids)], 0, None, None, ["reference"]
    )
    return {f"account.invoice,{row['id']}": row["reference"] or "" for row in found}


def _company_currency(adapter) -> str:
    key = ("company_currency", "code")
    if key not in adapter._cache:
        (row,) = adapter._model(
            "company.company",
            "search_read",
            [("id", "=", adapter._company_id())],
            0,
            1,
            None,
            ["currency.code"],
        )
        adapter._cache[key] = _code(row, "currency")
    return adapter._cache[key]
