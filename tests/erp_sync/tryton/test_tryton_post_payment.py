"""Payments, refunds and write-offs against invoices in a real Tryton."""

import datetime as dt
from decimal import Decimal

import pytest

from erp_sync.adapters.base import NonRetryableError, ParentMissingError, Posting

from .conftest import BAD_DEBT, CASH, RECEIVABLE

pytestmark = pytest.mark.tryton


def _state(rpc, erp_id):
    (row,) = rpc.model("account.invoice", "read", [int(erp_id)], ["state", "amount_to_pay"])
    return row


def test_post_payment_in_full_marks_invoice_paid(adapter, rpc, make_document):
    invoice = make_document()
    posted = adapter.post(invoice)
    payment = make_document(
        "payment",
        parent_external_id=invoice.external_id,
        lines=(),
        tax_total=Decimal(0),
        document_date=dt.date(2026, 3, 20),
    )

    result = adapter.post(payment)

    assert result.created is True and result.number
    assert _state(rpc, posted.erp_id)["state"] == "paid"
    (move,) = rpc.model("account.move", "read", [int(result.erp_id)], ["description", "state"])
    assert move == {"id": int(result.erp_id), "description": payment.external_id, "state": "posted"}


def test_post_same_payment_twice_pays_once(adapter, rpc, make_document):
    invoice = make_document()
    adapter.post(invoice)
    payment = make_document(
        "payment", parent_external_id=invoice.external_id, lines=(), total=Decimal("60.00")
    )
    first = adapter.post(payment)

    second = adapter.post(payment)

    assert second.created is False and second.erp_id == first.erp_id
    assert (
        rpc.model("account.move", "search_count", [("description", "=", payment.external_id)]) == 1
    )


def test_post_partial_payment_leaves_rest_to_pay(adapter, rpc, make_document):
    invoice = make_document()
    posted = adapter.post(invoice)

    adapter.post(
        make_document(
            "payment", parent_external_id=invoice.external_id, lines=(), total=Decimal("60.00")
        )
    )

    state = _state(rpc, posted.erp_id)
    assert state["state"] == "posted" and state["amount_to_pay"] == Decimal("100.00")


def test_post_payment_whose_invoice_is_absent_raises_parent_missing(adapter, make_document):
    payment = make_document("payment", parent_external_id="concord:invoice:absent", lines=())

    with pytest.raises(ParentMissingError):
        adapter.post(payment)


def test_post_write_off_of_open_balance_reconciles_invoice(adapter, rpc, make_document):
    invoice = make_document()
    posted = adapter.post(invoice)
    adapter.post(
        make_document(
            "payment", parent_external_id=invoice.external_id, lines=(), total=Decimal("100.00")
        )
    )
    write_off = make_document(
        "write_off",
        parent_external_id=invoice.external_id,
        lines=(),
        total=Decimal("60.00"),
        postings=(
            Posting(account=BAD_DEBT, debit=Decimal("60.00")),
            Posting(account=RECEIVABLE, credit=Decimal("60.00")),
        ),
    )

    result = adapter.post(write_off)

    assert result.created is True and result.number
    assert _state(rpc, posted.erp_id)["state"] == "paid"
    assert adapter.post(write_off).created is False


def test_post_refund_posts_cash_move_with_party(adapter, rpc, make_document):
    invoice = make_document()
    adapter.post(invoice)
    refund = make_document(
        "refund",
        parent_external_id=invoice.external_id,
        lines=(),
        total=Decimal("20.00"),
        postings=(
            Posting(account=RECEIVABLE, debit=Decimal("20.00")),
            Posting(account=CASH, credit=Decimal("20.00")),
        ),
    )

    result = adapter.post(refund)

    (move,) = rpc.model(
        "account.move", "read", [int(result.erp_id)], ["state", "journal.type", "lines"]
    )
    assert move["state"] == "posted" and move["journal."]["type"] == "cash"
    lines = rpc.model("account.move.line", "read", move["lines"], ["party", "debit", "credit"])
    assert sorted((line["debit"], line["credit"], bool(line["party"])) for line in lines) == [
        (Decimal("0"), Decimal("20.00"), False),
        (Decimal("20.00"), Decimal("0"), True),
    ]


def test_post_unbalanced_refund_raises_non_retryable(adapter, make_document):
    invoice = make_document()
    adapter.post(invoice)
    refund = make_document(
        "refund",
        parent_external_id=invoice.external_id,
        lines=(),
        postings=(Posting(account=RECEIVABLE, debit=Decimal("20.00")),),
    )

    with pytest.raises(NonRetryableError, match="balanced"):
        adapter.post(refund)
