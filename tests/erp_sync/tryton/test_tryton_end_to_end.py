"""End to end into a real Tryton: canonical events in, posted Tryton documents out.

invoice.issued, credit_note.issued and payment.settled go through ingestion, dispatch, the
mapping rules and the posting task (Celery eager here) into a trytond of its own (a fresh
copy of the template, so invoice-date ordering of other tests cannot interfere). The jobs
must hold Tryton's references and the documents must carry the mapped accounts and exact
totals.
"""

import os
import secrets
from decimal import Decimal

import pytest

from billing.models import CreditNote, Invoice, LegalEntity, Payment
from billing.services import event_ingest
from config.celery import app as celery_app
from erp_sync.adapters.jsonrpc import TrytonRpc
from erp_sync.choices import SyncJobState
from erp_sync.models import Connection, SyncJob
from erp_sync.services.rules import mapping_rule_create
from erp_sync.tryton_setup.template import database_create_from_template, database_drop

from .conftest import CASH, RECEIVABLE, REVENUE, SALES_TAX, _start_trytond

pytestmark = [pytest.mark.tryton, pytest.mark.django_db(transaction=True)]

SECRET_ENV = "CONCORD_ERP_TEST_TRYTON_PASSWORD"
TAX_ACCOUNT = "2.2.3"  # Accrued Taxes


@pytest.fixture(scope="module")
def own_tryton(tryton_database, tmp_path_factory):
    name = f"concord_tryton_e2e_{os.getpid()}_{secrets.token_hex(3)}"
    database_create_from_template(name)
    server = _start_trytond(name, tmp_path_factory.mktemp("trytond-e2e"))
    try:
        yield server
    finally:
        server.stop()
        database_drop(name)


@pytest.fixture
def eager_posting():
    """The posting runs inline (eager Celery) even when REDIS_URL is set."""
    was = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = was


@pytest.fixture
def tryton_connection(own_tryton, monkeypatch, eager_posting):
    monkeypatch.setenv(SECRET_ENV, own_tryton.password)
    entity = LegalEntity.objects.create(
        code="US01", name="Concord US", currency="USD", country="US"
    )
    connection = Connection.objects.create(
        name="tryton-us",
        entity=entity,
        adapter_kind="tryton",
        settings={
            "url": own_tryton.url,
            "database": own_tryton.database,
            "login": own_tryton.login,
        },
        secret_env=SECRET_ENV,
        max_concurrency=1,
    )
    common = {"entity": "US01", "valid_from": "2025-01-01", "receivable_account": RECEIVABLE}
    for document_type, revenue in (
        ("invoice", REVENUE),
        ("credit_note", REVENUE),
        ("payment", CASH),
    ):
        mapping_rule_create(
            data={
                **common,
                "name": f"US {document_type}",
                "document_type": document_type,
                "revenue_account": revenue,
                "tax_code": SALES_TAX if document_type != "payment" else "",
                "tax_account": TAX_ACCOUNT if document_type != "payment" else "",
            },
            actor=None,
        )
    return connection


def _event(event_id: str, type_: str, data: dict) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "billing-platform",
        "type": type_,
        "time": "2025-01-20T10:00:00Z",
        "entity": "US01",
        "data": data,
    }


def _line(line_id, quantity, unit_price, amount, tax_amount):
    return {
        "line_id": line_id,
        "description": f"Line {line_id}",
        "product_family": "platform",
        "quantity": quantity,
        "unit_price": unit_price,
        "amount": amount,
        "tax_code": SALES_TAX,
        "tax_amount": tax_amount,
    }


def _ingest(body):
    outcome = event_ingest(body=body, actor=None)
    assert outcome.status == 202, outcome.response
    assert outcome.event.state == "applied", outcome.event.quarantine_detail
    return outcome.event


def test_invoice_credit_note_and_payment_events_become_posted_tryton_documents(
    tryton_connection, own_tryton
):
    _ingest(
        _event(
            "e2e-cust",
            "customer.upserted",
            {
                "customer_id": "E2E-C1",
                "name": "Acme Robotics",
                "country": "US",
                "currency": "USD",
            },
        )
    )
    invoice_event = _ingest(
        _event(
            "e2e-inv",
            "invoice.issued",
            {
                "invoice_id": "E2E-INV-1",
                "customer_id": "E2E-C1",
                "issue_date": "2025-01-20",
                "due_date": "2025-02-19",
                "currency": "USD",
                "lines": [
                    _line("l1", "2", "50.00", "100.00", "10.00"),
                    _line("l2", "1", "200.00", "200.00", "20.00"),
                ],
                "subtotal": "300.00",
                "tax_total": "30.00",
                "total": "330.00",
            },
        )
    )
    credit_event = _ingest(
        _event(
            "e2e-cn",
            "credit_note.issued",
            {
                "credit_note_id": "E2E-CN-1",
                "invoice_id": "E2E-INV-1",
                "issue_date": "2025-01-22",
                "currency": "USD",
                "lines": [_line("c1", "1", "50.00", "50.00", "5.00")],
                "total": "55.00",
                "reason": "service credit",
            },
        )
    )
    payment_event = _ingest(
        _event(
            "e2e-pay",
            "payment.settled",
            {
                "payment_id": "E2E-PAY-1",
                "customer_id": "E2E-C1",
                "invoice_id": "E2E-INV-1",
                "amount": "275.00",
                "currency": "USD",
                "received_at": "2025-01-25T09:00:00Z",
                "method": "wire",
            },
        )
    )

    jobs = {job.event_id: job for job in SyncJob.objects.filter(connection=tryton_connection)}
    assert len(jobs) == 3
    for event in (invoice_event, credit_event, payment_event):
        job = jobs[event.pk]
        assert job.state == SyncJobState.POSTED, (job.state, job.last_error)
        assert job.erp_id and job.erp_number
        assert job.attempt_log.count() >= 1

    rpc = TrytonRpc(own_tryton.url, own_tryton.database, own_tryton.login, own_tryton.password)
    invoice_job = jobs[invoice_event.pk]
    (tryton_invoice,) = rpc.model(
        "account.invoice",
        "read",
        [int(invoice_job.erp_id)],
        [
            "state",
            "number",
            "total_amount",
            "tax_amount",
            "account.code",
            "reference",
            "lines",
            "amount_to_pay",
        ],
    )
    assert tryton_invoice["number"] == invoice_job.erp_number
    assert tryton_invoice["reference"] == invoice_job.external_id
    assert tryton_invoice["total_amount"] == Decimal("330.00")
    assert tryton_invoice["tax_amount"] == Decimal("30.00")
    assert tryton_invoice["account."]["code"] == RECEIVABLE
    lines = rpc.model(
        "account.invoice.line", "read", tryton_invoice["lines"], ["account.code", "amount"]
    )
    assert sorted((line["account."]["code"], line["amount"]) for line in lines) == [
        (REVENUE, Decimal("100.00")),
        (REVENUE, Decimal("200.00")),
    ]
    # The payment of 275.00 was reconciled against the invoice: 55.00 is left to pay.
    assert tryton_invoice["amount_to_pay"] == Decimal("55.00")

    credit_job = jobs[credit_event.pk]
    (tryton_credit,) = rpc.model(
        "account.invoice",
        "read",
        [int(credit_job.erp_id)],
        ["state", "number", "total_amount", "reference"],
    )
    assert tryton_credit["state"] == "posted"
    assert tryton_credit["reference"] == credit_job.external_id
    assert tryton_credit["total_amount"] == Decimal("-55.00")

    # Lineage on the billing records: ERP status and the Tryton document number.
    invoice = Invoice.objects.get(invoice_id="E2E-INV-1")
    assert (invoice.erp_status, invoice.erp_document_number) == ("posted", invoice_job.erp_number)
    credit = CreditNote.objects.get(credit_note_id="E2E-CN-1")
    assert (credit.erp_status, credit.erp_document_number) == ("posted", credit_job.erp_number)
    payment = Payment.objects.get(payment_id="E2E-PAY-1")
    assert payment.erp_status == "posted"
    assert payment.erp_document_number == jobs[payment_event.pk].erp_number
