"""The Tryton listing for reconciliation against a real server: every kind, every field, pages,
the company filter, and a posted document changed through Tryton's own API.

Dated July 2025: after test_tryton_list_and_health's April 2025 invoices (Tryton's strict
numbering refuses an invoice dated before the last numbered one of its sequence).
"""

import datetime as dt
from decimal import Decimal

import pytest

from erp_sync.adapters.base import listed_flat

pytestmark = pytest.mark.tryton

JULY = (dt.date(2025, 7, 1), dt.date(2025, 7, 31))


def _supplier_bill(rpc, reference: str, day: dt.date) -> int:
    """An `in` invoice created and posted through Tryton's API (Concord posts none yet)."""
    (company,) = rpc.model("company.company", "search", [], 0, 1, None)
    (payable,) = rpc.search_read("account.account", [("code", "=", "2.1.1")], ["id"])
    expense = rpc.search_read(
        "account.account", [("type.expense", "=", True), ("closed", "!=", True)], ["id"], limit=1
    )[0]
    (journal,) = rpc.search_read("account.journal", [("type", "=", "expense")], ["id"], limit=1)
    (usd,) = rpc.search_read("currency.currency", [("code", "=", "USD")], ["id"])
    (party,) = rpc.model(
        "party.party",
        "create",
        [{"name": "Supplier", "code": f"SUP-{reference}", "addresses": [("create", [{}])]}],
    )
    (address,) = rpc.model("party.party", "read", [party], ["addresses"])[0]["addresses"]
    (bill,) = rpc.model(
        "account.invoice",
        "create",
        [
            {
                "type": "in",
                "company": company,
                "party": party,
                "invoice_address": address,
                "account": payable["id"],
                "journal": journal["id"],
                "currency": usd["id"],
                "invoice_date": day,
                "reference": reference,
                "description": "bill 42",
                "lines": [
                    (
                        "create",
                        [
                            {
                                "type": "line",
                                "currency": usd["id"],
                                "account": expense["id"],
                                "description": "hosting",
                                "quantity": 1.0,
                                "unit_price": Decimal("70.00"),
                            }
                        ],
                    )
                ],
            }
        ],
    )
    rpc.model("account.invoice", "post", [bill])
    return bill


def test_document_pages_lists_every_kind_with_its_fields(adapter, rpc, make_document):
    invoice = make_document(document_date=dt.date(2025, 7, 2))
    credit = make_document(
        "credit_note", parent_external_id=invoice.external_id, document_date=dt.date(2025, 7, 3)
    )
    paid = make_document(document_date=dt.date(2025, 7, 4))
    payment = make_document(
        "payment",
        parent_external_id=paid.external_id,
        lines=(),
        tax_total=Decimal(0),
        party=paid.party,
        document_date=dt.date(2025, 7, 6),
    )
    posted = {doc.external_id: adapter.post(doc) for doc in (invoice, credit, paid, payment)}
    bill_id = _supplier_bill(rpc, "SUP-BILL-7", dt.date(2025, 7, 5))

    pages = list(adapter.document_pages("US01", *JULY, page_size=2))
    listed = {d.external_id: d for d in listed_flat(pages)}

    assert len(pages) >= 3 and all(len(page) <= 2 for page in pages)
    first = listed[invoice.external_id]
    assert (first.kind, first.number, first.state) == (
        "invoice",
        posted[invoice.external_id].number,
        "posted",
    )
    assert (first.total, first.tax_total, first.net_total) == (
        Decimal("160.00"),
        Decimal("10.00"),
        Decimal("150.00"),
    )
    assert (first.currency, first.party_code, first.reference) == (
        "USD",
        invoice.party.code,
        invoice.reference,
    )
    assert first.document_date == dt.date(2025, 7, 2) and first.accounting_date is None
    note = listed[credit.external_id]
    assert (note.kind, note.total, note.net_total, note.state) == (
        "credit_note",
        Decimal("160.00"),
        Decimal("150.00"),
        "posted",
    )
    assert note.number == posted[credit.external_id].number
    assert listed[paid.external_id].state == "paid"
    receipt = listed[payment.external_id]
    assert (receipt.kind, receipt.state, receipt.number) == (
        "payment",
        "posted",
        posted[payment.external_id].number,
    )
    assert (receipt.total, receipt.tax_total, receipt.currency) == (
        Decimal("160.00"),
        Decimal(0),
        "USD",
    )
    assert (receipt.parent_external_id, receipt.party_code) == (paid.external_id, paid.party.code)
    assert receipt.document_date == dt.date(2025, 7, 6)
    bill = listed["SUP-BILL-7"]
    (bill_number,) = rpc.model("account.invoice", "read", [bill_id], ["number"])
    assert (bill.kind, bill.state, bill.number, bill.reference) == (
        "supplier_bill",
        "posted",
        bill_number["number"],
        "bill 42",
    )
    assert (bill.total, bill.tax_total, bill.net_total) == (
        Decimal("70.00"),
        Decimal(0),
        Decimal("70.00"),
    )


def test_document_pages_lists_drafts_and_reports_changes_made_in_tryton(
    adapter, rpc, make_document
):
    invoice = make_document(document_date=dt.date(2025, 7, 10))
    erp_id = int(adapter.post(invoice).erp_id)
    # A person works in Tryton: copies the posted invoice (the copy stays a draft) and
    # types another reference on the posted one (allowed after posting).
    rpc.model(
        "account.invoice",
        "copy",
        [erp_id],
        {"reference": "draft-copy", "invoice_date": dt.date(2025, 7, 10)},
    )
    rpc.model("account.invoice", "write", [erp_id], {"reference": "typed-by-hand"})

    listed = {d.external_id: d for d in adapter.list_documents("US01", *JULY)}

    assert invoice.external_id not in listed
    assert listed["typed-by-hand"].state == "posted"
    assert listed["typed-by-hand"].reference == invoice.reference
    assert listed["draft-copy"].state == "draft" and listed["draft-copy"].number == ""
    assert listed["draft-copy"].total == Decimal("160.00")


def test_document_pages_of_another_company_lists_none_of_this_ones(
    tryton_server, adapter, rpc, make_document
):
    adapter.post(make_document(document_date=dt.date(2025, 7, 20)))
    (usd,) = rpc.search_read("currency.currency", [("code", "=", "USD")], ["id"])
    (party,) = rpc.model("party.party", "create", [{"name": "Concord Demo EU"}])
    (other,) = rpc.model("company.company", "create", [{"party": party, "currency": usd["id"]}])
    rpc.model("res.user", "write", [rpc.user_id], {"companies": [("add", [other])]})

    own = adapter.list_documents("US01", *JULY)
    foreign = tryton_server.adapter(company_id=other).list_documents("EU01", *JULY)

    assert own and foreign == []
