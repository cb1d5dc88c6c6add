"""An approved settlement reaches a real Tryton as ONE supplier invoice with the exact total.

The settlement is approved through partners' services by a second channel manager;
`settlement.approved` is ingested, dispatched to the Tryton connection of the paying entity
and posted (Celery eager) as an `account.invoice` of type in to the partner, on the payable
account. Dispatching, posting and replaying again leave one invoice; the settlement is posted,
and `payout.settled` then makes it paid.
"""

import datetime as dt
import os
import secrets
from decimal import Decimal

import pytest
from django.test import TestCase

from billing.models import FinanceEvent
from billing.services.events import event_replay
from config.celery import app as celery_app
from erp_sync.actors import system_actor
from erp_sync.adapters.jsonrpc import TrytonRpc
from erp_sync.adapters.registry import adapter_for
from erp_sync.choices import SyncJobState
from erp_sync.documents import document_from_json
from erp_sync.models import Connection, SyncJob
from erp_sync.services.dispatch import sync_jobs_create_for_event
from erp_sync.services.rules import mapping_rule_create
from erp_sync.tryton_setup.template import database_create_from_template, database_drop
from partners.choices import SettlementState
from partners.services import settlements as svc
from tests.partners import factories as f

from .conftest import _start_trytond

pytestmark = [pytest.mark.tryton, pytest.mark.django_db(transaction=True)]

SECRET_ENV = "CONCORD_ERP_TEST_TRYTON_PASSWORD"
PAYABLE = "2.1.1"  # Trade Payables (party required)
EXPENSE = "5.1.3"  # Services (expense)


@pytest.fixture(scope="module")
def own_tryton(tryton_database, tmp_path_factory):
    name = f"concord_tryton_vb_{os.getpid()}_{secrets.token_hex(3)}"
    database_create_from_template(name)
    server = _start_trytond(name, tmp_path_factory.mktemp("trytond-vb"))
    try:
        yield server
    finally:
        server.stop()
        database_drop(name)


@pytest.fixture
def eager_posting():
    was = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = was


def _connect(own_tryton):
    """The Tryton connection of US01 and its settlement rule. Made once the billing records
    exist (their invoices would post nowhere: no invoice rule, so they would hold the
    settlement with a mapping case)."""
    connection = Connection.objects.create(
        name="tryton-us",
        entity=f.entity("US01"),
        adapter_kind="tryton",
        settings={
            "url": own_tryton.url,
            "database": own_tryton.database,
            "login": own_tryton.login,
        },
        secret_env=SECRET_ENV,
        max_concurrency=1,
    )
    mapping_rule_create(
        data={
            "name": "US settlement",
            "entity": "US01",
            "document_type": "settlement",
            "valid_from": "2025-01-01",
            "revenue_account": EXPENSE,
            "receivable_account": PAYABLE,
        },
        actor=None,
    )
    return connection


@pytest.fixture
def rpc(own_tryton, monkeypatch, eager_posting):
    monkeypatch.setenv(SECRET_ENV, own_tryton.password)
    return TrytonRpc(own_tryton.url, own_tryton.database, own_tryton.login, own_tryton.password)


def _approved_settlement(own_tryton):
    """243.37 USD: two invoice lines at the agreement's 20% (0.13 rounds), approved by bob."""
    alice = f.user("cm-alice", "channel_manager")
    bob = f.user("cm-bob", "channel_manager")
    seller = f.partner()
    f.agreement(of=seller)
    sub = f.subscription(buyer=f.customer(), seller=seller)
    f.invoice(sub=sub, on="2026-04-02", lines=[f.line("1000.00"), f.line("216.85")])
    settlement = svc.settlement_open(
        partner=seller, on=dt.date(2026, 4, 15), currency="USD", actor=alice
    )
    settlement = svc.settlement_calculate(settlement=settlement, actor=alice)
    svc.settlement_submit(settlement=settlement, actor=alice)
    connection = _connect(own_tryton)
    with TestCase.captureOnCommitCallbacks(execute=True):
        settlement = svc.settlement_approve(settlement=settlement, actor=bob)
    return settlement, seller, alice, connection


def _supplier_invoices(rpc, reference):
    ids = rpc.model("account.invoice", "search", [("reference", "=", reference)], 0, None, None)
    return rpc.model(
        "account.invoice",
        "read",
        ids,
        ["type", "state", "total_amount", "account.code", "party.code", "lines", "number"],
    )


def test_approved_settlement_posts_one_supplier_invoice_with_exact_total(own_tryton, rpc):
    settlement, seller, alice, connection = _approved_settlement(own_tryton)
    event = settlement.approved_event

    [job] = SyncJob.objects.filter(event=event)
    assert job.connection == connection
    assert job.state == SyncJobState.POSTED, (job.state, job.last_error)
    [invoice] = _supplier_invoices(rpc, job.external_id)
    assert (invoice["type"], invoice["state"]) == ("in", "posted")
    assert invoice["total_amount"] == settlement.total_amount == Decimal("243.37")
    assert invoice["account."]["code"] == PAYABLE
    assert invoice["party."]["code"] == seller.partner_id
    assert invoice["number"] == job.erp_number
    lines = rpc.model("account.invoice.line", "read", invoice["lines"], ["account.code", "amount"])
    assert [(line["account."]["code"], line["amount"]) for line in lines] == [
        (EXPENSE, Decimal("243.37"))
    ]
    settlement.refresh_from_db()
    assert settlement.state == SettlementState.POSTED

    # Dispatch again, replay the event, post the job's document again: still one invoice.
    with TestCase.captureOnCommitCallbacks(execute=True):
        sync_jobs_create_for_event(event=event, actor=system_actor())
        event_replay(event=FinanceEvent.objects.get(pk=event.pk), actor=alice)
    job.refresh_from_db()
    assert job.state == SyncJobState.POSTED
    second = adapter_for(connection).post(document_from_json(job.document))
    assert second.created is False and second.erp_id == job.erp_id
    assert SyncJob.objects.filter(event=event).count() == 1
    assert len(_supplier_invoices(rpc, job.external_id)) == 1
    party_ids = rpc.model(
        "party.party", "search", [("code", "=", seller.partner_id)], 0, None, None
    )
    assert len(party_ids) == 1

    # The payout: posted → paid.
    paid = svc.settlement_mark_paid(settlement=settlement, actor=alice, reference="BANK-2026-5")
    assert paid.state == SettlementState.PAID
    assert FinanceEvent.objects.get(type="payout.settled").data["amount"] == "243.37"
