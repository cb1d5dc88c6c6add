"""A small, fully known May 2026 of entity US01 for the KPI, checklist and console tests.

Invoices (each 100.00 + 8.00 tax = 108.00 USD): `ok` posted and agreeing; `off` posted but
the ERP holds 108.50 (amount_mismatch, +0.50); `missing` never posted (missing_in_erp,
-108.00); `credited` posted and agreeing but corrected by a credit note (54.00) that never
reached the ERP (missing_in_erp, -54.00). `run` is the completed run that found them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from billing.choices import ErpStatus
from billing.models import Invoice
from reconciliation.models import ReconciliationRun
from reconciliation.services.runs import run_execute, run_start
from tests.reconciliation.factories import (
    MAY_END,
    MAY_START,
    ConnectionFactory,
    CustomerFactory,
    D,
    LegalEntityFactory,
    erp_post,
    line,
    make_credit_note,
    make_invoice,
)


@dataclass
class Month:
    entity: object
    connection: object
    invoices: dict
    run: ReconciliationRun | None = None


def invoice(entity, name: str, **kwargs) -> Invoice:
    customer = CustomerFactory(entity=entity, customer_id=f"cus_{name}")
    return make_invoice(
        entity=entity,
        customer=customer,
        invoice_id=f"INV-{name}",
        lines=[line("100.00", tax="8.00", tax_code="US-ST")],
        issue_date=kwargs.pop("issue_date", dt.date(2026, 5, 12)),
        **kwargs,
    )


def build(*, run: bool = True, actor=None) -> Month:
    entity = LegalEntityFactory(code="US01")
    connection = ConnectionFactory(entity=entity)
    invoices = {name: invoice(entity, name) for name in ("ok", "off", "missing", "credited")}
    erp_post(connection, invoices["ok"])
    erp_post(connection, invoices["off"], total_amount=D("108.50"))
    erp_post(connection, invoices["credited"])
    make_credit_note(invoice=invoices["credited"])
    Invoice.objects.filter(invoice_id__in=["INV-ok", "INV-off", "INV-credited"]).update(
        erp_status=ErpStatus.POSTED
    )
    month = Month(entity=entity, connection=connection, invoices=invoices)
    if run:
        month.run = execute(entity, actor)
    return month


def execute(entity, actor) -> ReconciliationRun:
    started = run_start(entity=entity, period_start=MAY_START, period_end=MAY_END, actor=actor)
    return run_execute(run_id=started.pk, actor=actor)
