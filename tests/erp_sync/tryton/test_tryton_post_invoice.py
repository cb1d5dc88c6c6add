"""Posting invoices and credit notes to a real Tryton: accounts, totals, numbers, idempotency."""

import datetime as dt
import time
from decimal import Decimal

import pytest

from erp_sync.adapters.base import NonRetryableError, ParentMissingError, PeriodClosedError

from .conftest import RECEIVABLE, REVENUE

pytestmark = pytest.mark.tryton


def _invoice(rpc, erp_id):
    (row,) = rpc.model(
        "account.invoice",
        "read",
        [int(erp_id)],
        [
            "state",
            "number",
            "total_amount",
            "tax_amount",
            "untaxed_amount",
            "account.code",
            "reference",
            "invoice_date",
            "currency.code",
            "lines",
        ],
    )
    return row


def test_post_invoice_with_two_lines_and_tax_posts_exact_invoice(adapter, rpc, make_document):
    document = make_document()

    started = time.monotonic()
    result = adapter.post(document)
    elapsed = time.monotonic() - started

    assert result.created is True
    invoice = _invoice(rpc, result.erp_id)
    assert invoice["state"] == "posted"
    assert result.number == invoice["number"] and result.number.startswith("INV2026/")
    assert invoice["total_amount"] == Decimal("160.00")
    assert invoice["tax_amount"] == Decimal("10.00")
    assert invoice["reference"] == document.external_id
    assert invoice["invoice_date"] == dt.date(2026, 3, 15)
    assert invoice["account."]["code"] == RECEIVABLE
    assert invoice["currency."]["code"] == "USD"
    lines = rpc.model("account.invoice.line", "read", invoice["lines"], ["account.code", "amount"])
    assert sorted((line["account."]["code"], line["amount"]) for line in lines) == [
        (REVENUE, Decimal("50.00")),
        (REVENUE, Decimal("100.00")),
    ]
    print(f"\n[timing] post one invoice (party create + invoice create + post): {elapsed:.2f} s")


def test_post_same_invoice_twice_returns_existing_and_keeps_one(adapter, rpc, make_document):
    document = make_document()
    first = adapter.post(document)

    second = adapter.post(document)

    assert second.created is False
    assert (second.erp_id, second.number) == (first.erp_id, first.number)
    assert (
        rpc.model("account.invoice", "search_count", [("reference", "=", document.external_id)])
        == 1
    )
    assert adapter.find(document.external_id) == second


def test_find_unknown_external_id_returns_none(adapter):
    assert adapter.find("concord:invoice:never-posted") is None


def _draft_invoice(adapter, rpc, document):
    """What an attempt that crashed between create and post leaves behind."""
    party_id, address_id = adapter._party(document)
    line = {
        "type": "line",
        "account": adapter._account_id(REVENUE),
        "description": "Platform subscription",
        "quantity": 1.0,
        "unit_price": Decimal("160.00"),
    }
    (invoice_id,) = rpc.model(
        "account.invoice",
        "create",
        [
            {
                "type": "out",
                "party": party_id,
                "invoice_address": address_id,
                "account": adapter._account_id(RECEIVABLE),
                "journal": adapter._journal_id("revenue"),
                "currency": adapter._currency_id("USD"),
                "invoice_date": dt.date(2026, 1, 1),
                "reference": document.external_id,
                "lines": [("create", [line])],
            }
        ],
    )
    return invoice_id


def test_post_after_crash_between_create_and_post_posts_the_draft(adapter, rpc, make_document):
    document = make_document()
    invoice_id = _draft_invoice(adapter, rpc, document)
    assert adapter.find(document.external_id) is None  # a draft is not "in the ERP" yet

    result = adapter.post(document)

    assert result.created is False and result.erp_id == str(invoice_id)
    invoice = _invoice(rpc, invoice_id)
    assert invoice["state"] == "posted" and result.number == invoice["number"]
    assert invoice["invoice_date"] == document.document_date  # the document's date wins
    assert (
        rpc.model("account.invoice", "search_count", [("reference", "=", document.external_id)])
        == 1
    )


def test_post_credit_note_posts_negative_invoice_in_credit_sequence(adapter, rpc, make_document):
    parent = make_document()
    adapter.post(parent)
    credit = make_document("credit_note", parent_external_id=parent.external_id)

    result = adapter.post(credit)

    invoice = _invoice(rpc, result.erp_id)
    assert result.created is True and invoice["state"] == "posted"
    assert invoice["total_amount"] == Decimal("-160.00")
    assert result.number.startswith("CN2026/")


def test_post_credit_note_without_parent_raises_parent_missing(adapter, make_document):
    credit = make_document("credit_note", parent_external_id="concord:invoice:absent")

    with pytest.raises(ParentMissingError):
        adapter.post(credit)


def test_post_invoice_with_unknown_account_raises_non_retryable(adapter, make_document):
    document = make_document(receivable_account="9.9.9")

    with pytest.raises(NonRetryableError, match=r"9\.9\.9"):
        adapter.post(document)
    assert adapter.find(document.external_id) is None


def test_post_invoice_with_unknown_tax_raises_non_retryable(adapter, make_document):
    document = make_document()
    line = document.lines[0].__class__(**{**document.lines[0].__dict__, "tax_code": "NOPE"})

    with pytest.raises(NonRetryableError, match="NOPE"):
        adapter.post(make_document(lines=(line,)))


def test_post_invoice_whose_total_disagrees_raises_and_leaves_nothing(adapter, make_document):
    document = make_document(total=Decimal("161.00"))

    with pytest.raises(NonRetryableError, match=r"161\.00"):
        adapter.post(document)
    assert adapter.find(document.external_id) is None


def test_post_invoice_dated_without_period_raises_period_closed(adapter, make_document):
    with pytest.raises(PeriodClosedError):
        adapter.post(make_document(document_date=dt.date(2031, 1, 10)))


def test_post_invoice_dated_before_last_number_raises_period_closed(adapter, make_document):
    # 2027 is used by this test only: strict numbering forbids going back in time.
    adapter.post(make_document(document_date=dt.date(2027, 6, 30)))

    with pytest.raises(PeriodClosedError):
        adapter.post(make_document(document_date=dt.date(2027, 1, 10)))


def test_post_invoice_in_foreign_currency_posts_in_that_currency(adapter, rpc, make_document):
    document = make_document(currency="EUR")

    result = adapter.post(document)

    invoice = _invoice(rpc, result.erp_id)
    assert invoice["state"] == "posted" and invoice["currency."]["code"] == "EUR"
    assert invoice["total_amount"] == Decimal("160.00")
