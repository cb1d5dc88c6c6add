"""A reconciliation run against a real Tryton server.

Events go through ingestion and the posting task into a trytond of its own (the end-to-end
test's fixtures); then a person cancels a posted invoice in Tryton (its own API, the company
allowing it), and one billing invoice never reaches Tryton. The run lists Tryton through the
adapter and must find exactly those two breaks: the paid invoice and its payment match.
"""

import datetime as dt

import pytest

from billing.models import Customer
from erp_sync.adapters.jsonrpc import TrytonRpc
from erp_sync.models import SyncJob
from reconciliation.choices import BreakState, RunState
from reconciliation.models import Break, ErpSnapshotRow
from reconciliation.services.runs import run_execute, run_start
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.tryton.conftest import tryton_database  # noqa: F401 (fixture)
from tests.erp_sync.tryton.test_tryton_end_to_end import (  # noqa: F401 (fixtures)
    _event,
    _ingest,
    _line,
    eager_posting,
    own_tryton,
    tryton_connection,
)

pytestmark = [pytest.mark.tryton, pytest.mark.django_db(transaction=True)]


def _invoice_event(invoice_id: str, day: str) -> dict:
    return _event(
        f"ev-{invoice_id}",
        "invoice.issued",
        {
            "invoice_id": invoice_id,
            "customer_id": "REC-C1",
            "issue_date": day,
            "due_date": "2025-02-28",
            "currency": "USD",
            "lines": [_line("l1", "2", "50.00", "100.00", "10.00")],
            "subtotal": "100.00",
            "tax_total": "10.00",
            "total": "110.00",
        },
    )


def test_run_against_tryton_finds_cancelled_and_unposted_invoices_only(
    tryton_connection,  # noqa: F811 (the imported fixture)
    own_tryton,  # noqa: F811
    make_user,
):
    _ingest(
        _event(
            "ev-cust",
            "customer.upserted",
            {"customer_id": "REC-C1", "name": "Recon Co", "country": "US", "currency": "USD"},
        )
    )
    _ingest(_invoice_event("REC-INV-PAID", "2025-01-20"))
    _ingest(
        _event(
            "ev-pay",
            "payment.settled",
            {
                "payment_id": "REC-PAY-1",
                "customer_id": "REC-C1",
                "invoice_id": "REC-INV-PAID",
                "amount": "110.00",
                "currency": "USD",
                "received_at": "2025-01-25T09:00:00Z",
                "method": "wire",
            },
        )
    )
    cancelled = _ingest(_invoice_event("REC-INV-CXL", "2025-01-21"))
    assert set(SyncJob.objects.values_list("state", flat=True)) == {"posted"}
    entity = tryton_connection.entity
    # Billing issued it; it never reached the ERP (no event through the posting path).
    make_invoice(
        entity=entity,
        customer=Customer.objects.get(customer_id="REC-C1"),
        invoice_id="REC-INV-MISSING",
        issue_date=dt.date(2025, 1, 22),
    )
    # A person cancels a posted invoice in Tryton.
    rpc = TrytonRpc(own_tryton.url, own_tryton.database, own_tryton.login, own_tryton.password)
    job = SyncJob.objects.get(event=cancelled)
    (company,) = rpc.model("company.company", "search", [], 0, 1, None)
    rpc.model("company.company", "write", [company], {"cancel_invoice_out": True})
    rpc.model("account.invoice", "cancel", [int(job.erp_id)])
    actor = make_user("fin", "finance_ops")

    run = run_start(
        entity=entity, period_start=dt.date(2025, 1, 1), period_end=dt.date(2025, 1, 31),
        actor=actor,
    )  # fmt: skip
    run = run_execute(run_id=run.pk, actor=actor)
    run.refresh_from_db()

    assert run.state == RunState.COMPLETED, run.failure_reason
    open_breaks = set(
        Break.objects.exclude(state=BreakState.RESOLVED).values_list("key", flat=True)
    )
    assert open_breaks == {
        "missing_in_erp|invoice:REC-INV-MISSING",
        "status_mismatch|invoice:REC-INV-CXL",
    }
    states = dict(ErpSnapshotRow.objects.filter(run=run).values_list("kind", "state"))
    assert states["payment"] == "posted"
    rows = ErpSnapshotRow.objects.filter(run=run, kind="invoice")
    assert sorted(rows.values_list("reference", "state")) == [
        ("REC-INV-CXL", "cancelled"),
        ("REC-INV-PAID", "paid"),
    ]
