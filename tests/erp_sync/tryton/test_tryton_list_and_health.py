"""Listing documents for reconciliation, account checks, health and outages.

Invoices here are dated in 2025: Tryton's strict numbering refuses an invoice dated before the
last numbered one of the same sequence, and the other modules post in 2026.
"""

import datetime as dt
from decimal import Decimal

import pytest

from erp_sync.adapters.base import RetryableError
from erp_sync.adapters.tryton import TrytonAdapter

from .conftest import CASH, RECEIVABLE, REVENUE

pytestmark = pytest.mark.tryton


def test_list_documents_returns_posted_invoices_and_credit_notes(adapter, make_document):
    invoice = make_document(document_date=dt.date(2025, 4, 2))
    credit = make_document(
        "credit_note", parent_external_id=invoice.external_id, document_date=dt.date(2025, 4, 2)
    )
    posted = adapter.post(invoice)
    credited = adapter.post(credit)

    listed = {
        d.external_id: d
        for d in adapter.list_documents("US01", dt.date(2025, 4, 1), dt.date(2025, 4, 30))
    }

    assert listed[invoice.external_id].number == posted.number
    assert listed[invoice.external_id].kind == "invoice"
    assert listed[invoice.external_id].total == Decimal("160.00")
    assert listed[invoice.external_id].tax_total == Decimal("10.00")
    assert listed[invoice.external_id].currency == "USD"
    assert listed[invoice.external_id].document_date == dt.date(2025, 4, 2)
    assert listed[invoice.external_id].party_code == invoice.party.code
    assert listed[credit.external_id].kind == "credit_note"
    assert listed[credit.external_id].number == credited.number
    assert listed[credit.external_id].total == Decimal("160.00")


def test_list_documents_outside_period_excludes_them(adapter, make_document):
    invoice = make_document(document_date=dt.date(2025, 4, 2))
    adapter.post(invoice)

    listed = adapter.list_documents("US01", dt.date(2025, 5, 1), dt.date(2025, 5, 31))

    assert invoice.external_id not in {d.external_id for d in listed}


def test_missing_accounts_returns_unknown_codes_only(adapter):
    assert adapter.missing_accounts({RECEIVABLE, REVENUE, CASH, "9.9.9", "nope"}) == {
        "9.9.9",
        "nope",
    }


def test_chart_of_accounts_lists_open_accounts_with_names_and_kinds(adapter):
    chart = {account.code: account for account in adapter.chart_of_accounts()}

    assert chart[RECEIVABLE].kind == "receivable"
    assert chart[REVENUE].kind == "revenue"
    assert chart[REVENUE].name == "Services"
    assert chart[CASH].name == "Cash and Cash Equivalents"
    codes = [account.code for account in adapter.chart_of_accounts()]
    assert codes == sorted(codes)


def test_health_on_running_server_is_ok(adapter):
    health = adapter.health()

    assert health.ok is True, health.detail


def test_health_with_wrong_password_is_not_ok(tryton_server):
    adapter = TrytonAdapter(
        tryton_server.url, tryton_server.database, tryton_server.login, "wrong-password"
    )

    assert adapter.health().ok is False


def test_post_when_server_stopped_raises_retryable_and_health_fails(
    start_extra_trytond, make_document
):
    server = start_extra_trytond()
    adapter = server.adapter(timeout=5)
    assert adapter.health().ok
    server.stop()

    with pytest.raises(RetryableError):
        adapter.post(make_document())
    health = adapter.health()
    assert health.ok is False and "erp_unavailable" in health.detail
