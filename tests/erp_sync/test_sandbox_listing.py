"""The sandbox's listing for reconciliation: every kind with its fields, states from the
ledger, pages by id, faults per page."""

import datetime as dt
from decimal import Decimal

import pytest

from erp_sync.adapters.base import RetryableError, listed_flat
from erp_sync.builders import build_document
from erp_sync.models import SandboxDocument
from tests.erp_sync.factories import make_credit_note, make_invoice, make_payment
from tests.erp_sync.test_sandbox_adapter import connection, sandbox  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db
MAY = (dt.date(2026, 5, 1), dt.date(2026, 5, 31))


def _posted(connection, record):  # noqa: F811
    document = build_document(event=record.event, connection=connection).document
    sandbox(connection).post(document)
    return document


def test_document_pages_lists_kinds_fields_and_ledger_states(connection):  # noqa: F811
    paid = make_invoice(entity=connection.entity, issue_date=dt.date(2026, 5, 4))
    open_ = make_invoice(entity=connection.entity, issue_date=dt.date(2026, 5, 5))
    paid_doc, open_doc = _posted(connection, paid), _posted(connection, open_)
    payment_doc = _posted(connection, make_payment(invoice=paid))
    credit_doc = _posted(connection, make_credit_note(invoice=open_))

    listed = {d.external_id: d for d in sandbox(connection).list_documents("US01", *MAY)}

    assert set(listed) == {d.external_id for d in (paid_doc, open_doc, payment_doc, credit_doc)}
    assert listed[paid_doc.external_id].state == "paid"
    assert listed[open_doc.external_id].state == "posted"  # the credit note covers half
    first = listed[open_doc.external_id]
    assert (first.kind, first.total, first.tax_total, first.net_total) == (
        "invoice",
        open_doc.total,
        open_doc.tax_total,
        open_doc.total - open_doc.tax_total,
    )
    assert (first.reference, first.party_code, first.currency) == (
        open_.invoice_id,
        open_.customer.customer_id,
        "USD",
    )
    assert first.number == SandboxDocument.objects.get(external_id=open_doc.external_id).number
    receipt = listed[payment_doc.external_id]
    assert (receipt.kind, receipt.state, receipt.parent_external_id) == (
        "payment",
        "posted",
        paid_doc.external_id,
    )
    assert receipt.net_total == receipt.total == paid.total_amount
    assert receipt.tax_total == Decimal(0)
    note = listed[credit_doc.external_id]
    assert (note.kind, note.parent_external_id) == ("credit_note", open_doc.external_id)


def test_document_pages_state_written_by_hand_wins(connection):  # noqa: F811
    document = _posted(connection, make_invoice(entity=connection.entity))
    SandboxDocument.objects.filter(external_id=document.external_id).update(
        body={"state": "cancelled"}
    )

    (listed,) = sandbox(connection).list_documents("US01", *MAY)

    assert listed.state == "cancelled"


def test_document_pages_pages_by_id_and_excludes_other_periods(connection):  # noqa: F811
    posted = [
        _posted(connection, make_invoice(entity=connection.entity, issue_date=dt.date(2026, 5, d)))
        for d in (9, 3, 7, 1, 5)
    ]
    _posted(connection, make_invoice(entity=connection.entity, issue_date=dt.date(2026, 6, 1)))

    pages = list(sandbox(connection).document_pages("US01", *MAY, page_size=2))

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [d.external_id for d in listed_flat(pages)] == [d.external_id for d in posted]


def test_document_pages_fault_on_a_later_page_raises_from_the_iterator(connection):  # noqa: F811
    for day in (1, 2, 3):
        _posted(
            connection, make_invoice(entity=connection.entity, issue_date=dt.date(2026, 5, day))
        )
    # The first page's call draws no fault (0.99), the second draws a 503 (0.0).
    pages = sandbox(connection, 0.99, 0.0, error_rate=0.5).document_pages("US01", *MAY, page_size=2)

    assert len(next(pages)) == 2
    with pytest.raises(RetryableError, match="503"):
        next(pages)
