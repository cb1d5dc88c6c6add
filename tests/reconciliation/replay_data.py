"""A month whose one invoice never reached the ERP because its posting died, for the tests of
replaying a missing posting from its break (service, console and browser).

US01 with a sandbox connection; INV-lost was dispatched before any mapping rule existed, so
its sync job is dead (mapping_missing); then the rules were added and INV-ok posted through
the real posting path (eager Celery). A run of May 2026 finds INV-lost missing in the ERP.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from billing.models import Invoice
from config.celery import app as celery_app
from erp_sync.models import Connection, SyncJob
from erp_sync.services.jobs import sync_jobs_create_for_event
from tests.erp_sync.factories import default_rules
from tests.reconciliation.factories import (
    MAY_END,
    MAY_START,
    ConnectionFactory,
    CustomerFactory,
    LegalEntityFactory,
    line,
    make_invoice,
)

__all__ = ["MAY_END", "MAY_START", "LostPosting", "build", "eager_celery"]


@dataclass
class LostPosting:
    connection: Connection
    lost: Invoice
    ok: Invoice

    @property
    def job(self) -> SyncJob:
        return SyncJob.objects.get(event=self.lost.event, connection=self.connection)


@pytest.fixture
def eager_celery():
    """Postings run inline once their transaction commits, even when REDIS_URL is set."""
    was = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = was


def _invoice(entity, name: str, amount: str) -> Invoice:
    customer = CustomerFactory(entity=entity, customer_id=f"cus_{name}")
    return make_invoice(
        entity=entity,
        customer=customer,
        invoice_id=f"INV-{name}",
        lines=[line(amount, tax="8.00", tax_code="US-ST")],
    )


def build(*, dispatch_lost: bool = True) -> LostPosting:
    """The month (see the module); `dispatch_lost=False` leaves INV-lost without a sync job."""
    entity = LegalEntityFactory(code="US01")
    connection = ConnectionFactory(entity=entity, name="sandbox-us")
    lost = _invoice(entity, "lost", "250.00")
    if dispatch_lost:
        sync_jobs_create_for_event(event=lost.event, actor=None)  # no rule yet: dead
    default_rules("US01")
    ok = _invoice(entity, "ok", "100.00")
    sync_jobs_create_for_event(event=ok.event, actor=None)
    return LostPosting(connection=connection, lost=lost, ok=ok)
