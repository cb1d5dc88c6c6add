"""The reconciliation part of the demo (`manage.py seed_recon_demo`, after the other seeds).

Each entity's sandbox ERP is altered on purpose for last month, as a person with access to
the ERP might: one invoice's total changed (amount_mismatch), one invoice deleted
(missing_in_erp: replaying its posting fixes it), one invoice typed in by hand that billing
never issued (missing_in_billing). UK01's postings of last month are held (its sandbox
closed the month, see seed_erp_demo), so its run also shows them missing in the ERP. Then
one run per entity and scope (documents, usage, partners) of last month is executed
inline, so the console shows completed runs with their breaks and cases and the dashboard
its KPIs. Idempotent: an entity whose sandbox was altered already is left as it is, and a
scope with a completed run of the month is not run again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from erp_sync.choices import AdapterKind, DocumentType
from erp_sync.models import Connection, SandboxDocument
from reconciliation.actors import system_actor
from reconciliation.choices import RunScope, RunState
from reconciliation.models import ReconciliationRun
from reconciliation.periods import Period
from reconciliation.services.runs import run_execute, run_start

# What the demo changes in the ERP's copy of an invoice total.
AMOUNT_CHANGE = Decimal("10.00")
MANUAL_TOTAL = Decimal("123.45")


def manual_external_id(code: str) -> str:
    return f"demo-manual-{code.lower()}-1"


def sandbox_alter(connection: Connection, period: Period) -> list[str]:
    """Make the three breaks in `connection`'s sandbox for `period`; what it did (nothing
    when the sandbox was altered before). A sandbox holding no document of the month (UK01:
    its month is closed and its postings held) gets only the typed-in invoice."""
    code = connection.entity.code
    documents = SandboxDocument.objects.filter(connection=connection)
    if documents.filter(external_id=manual_external_id(code)).exists():
        return []
    listed = documents.filter(
        kind__in=(DocumentType.INVOICE, DocumentType.PAYMENT),
        document_date__range=(period.start, period.end),
    )
    # Invoices first; a small demo may hold fewer than two in the month.
    picked = sorted(listed, key=lambda d: (d.kind != DocumentType.INVOICE, d.number))[:2]
    done = []
    with transaction.atomic():
        if picked:
            changed = picked[0]
            changed.total_amount += AMOUNT_CHANGE
            changed.body = {**changed.body, "demo_altered": "total changed in the ERP"}
            changed.save(update_fields=["total_amount", "body"])
            done.append(f"{code}: ERP total of {changed.number} +{AMOUNT_CHANGE}")
        if len(picked) > 1:
            picked[1].delete()
            done.append(f"{code}: {picked[1].number} deleted from the ERP")
        manual = SandboxDocument.objects.create(
            connection=connection,
            external_id=manual_external_id(code),
            kind=DocumentType.INVOICE,
            number=f"SBX-{code}-MANUAL-1",
            entity=code,
            currency=connection.entity.currency,
            total_amount=MANUAL_TOTAL,
            tax_amount=Decimal(0),
            document_date=period.start + dt.timedelta(days=14),
            party_code=picked[0].party_code if picked else "",
            body={"demo_altered": "typed in by hand in the ERP"},
        )
        done.append(f"{code}: {manual.number} typed into the ERP")
    return done


def runs_execute(connection: Connection, period: Period, *, today: dt.date) -> list[str]:
    """One completed run of `period` per scope for the connection's entity; what it did."""
    done = []
    actor = system_actor()
    for scope in RunScope.values:
        runs = ReconciliationRun.objects.filter(
            entity=connection.entity, period_start=period.start, period_end=period.end,
            scope=scope,
        )  # fmt: skip
        if runs.filter(state=RunState.COMPLETED).exists():
            continue
        run = runs.filter(state=RunState.QUEUED).first() or run_start(
            entity=connection.entity, period_start=period.start, period_end=period.end,
            scope=scope, connection=connection, actor=actor, today=today,
        )  # fmt: skip
        run = run_execute(run_id=run.pk, actor=actor)
        run.refresh_from_db()
        what = f"{run.break_count} breaks" if run.state == RunState.COMPLETED else run.state
        done.append(f"{connection.entity.code} {scope} run #{run.pk}: {what}")
    return done


def demo_reconciliation_seed(*, today: dt.date) -> list[str]:
    """Alter the sandboxes and run last month's reconciliations; lines saying what it did."""
    period = Period.previous_month(today)
    lines: list[str] = []
    connections = Connection.objects.filter(
        is_active=True, adapter_kind=AdapterKind.SANDBOX
    ).select_related("entity")
    for connection in connections.order_by("entity__code"):
        lines += sandbox_alter(connection, period)
        lines += runs_execute(connection, period, today=today)
    return lines
