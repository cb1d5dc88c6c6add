"""Ledger invariants under a random run of the posting engine against the sandbox ERP.

A hypothesis state machine posts invoices, credits, payments, refunds and write-offs, replays
what was posted, closes months, and crashes the worker at random points: inside the ERP call
(before the ledger is written), after the call wrote the ledger but before the job is marked,
and as a dead process that leaves its job in flight under a lease. After every step:

- every journal balances (debits = credits, per document, in the ERP's own rows);
- balances equal the sum of entries: the receivable balance the ERP holds equals the signed
  sum of the documents Concord has marked posted, each posted job has exactly one document,
  and every document belongs to a job (nothing posted twice, nothing lost);
- a replay changes nothing in the ledger;
- a closed month never changes (the connection posts to the next open month instead).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from erp_sync import semaphore
from erp_sync.actors import system_actor
from erp_sync.adapters.base import RetryableError
from erp_sync.adapters.sandbox import SandboxAdapter
from erp_sync.choices import ClosedPeriodPolicy, DocumentType, SyncJobState
from erp_sync.models import SandboxDocument, SandboxEntry, SyncJob
from erp_sync.services import dispatch as dispatch_module
from erp_sync.services.posting.engine import job_post
from erp_sync.services.sweeper import sync_sweep
from tests.erp_sync.factories import (
    RECEIVABLE,
    line,
    make_credit_note,
    make_invoice,
    make_payment,
    make_refund,
    make_write_off,
    sandbox_close_month,
)
from tests.erp_sync.job_helpers import eager_celery, make_world  # noqa: F401 (fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

MONTHS = [dt.date(2026, month, 1) for month in (3, 4, 5, 6)]
# Signed effect of each document on the receivable (DESIGN: builders).
RECEIVABLE_SIGN = {
    DocumentType.INVOICE: 1,
    DocumentType.CREDIT_NOTE: -1,
    DocumentType.PAYMENT: -1,
    DocumentType.REFUND: 1,
    DocumentType.WRITE_OFF: -1,
}


class WorkerCrash(BaseException):
    """The worker process dies: nothing after this point of the call runs."""


class Faults:
    """What the next ERP call does: None (answer), or one of the crash points."""

    def __init__(self):
        self.next: str | None = None

    def install(self, monkeypatch) -> None:
        original = SandboxAdapter.post
        faults = self

        def post(adapter, document, **kwargs):
            point, faults.next = faults.next, None
            if point == "error_before_write":
                raise RetryableError("sandbox post: 503 service unavailable (drawn)")
            if point == "death_before_write":
                raise WorkerCrash
            result = original(adapter, document, **kwargs)
            if point == "error_after_write":
                raise RetryableError("sandbox post: connection reset after commit (drawn)")
            if point == "death_after_write":
                raise WorkerCrash
            return result

        monkeypatch.setattr(SandboxAdapter, "post", post)


def ledger(connection) -> dict:
    """Every document of the ERP with its entries, by external id."""
    documents = {}
    for doc in SandboxDocument.objects.filter(connection=connection).prefetch_related("entries"):
        entries = sorted((e.account, e.debit_amount, e.credit_amount) for e in doc.entries.all())
        documents[doc.external_id] = (doc.number, doc.document_date, doc.total_amount, entries)
    return documents


class LedgerMachine(RuleBasedStateMachine):
    capture = None  # django_capture_on_commit_callbacks, set by the test
    faults: Faults

    invoices = Bundle("invoices")
    payments = Bundle("payments")

    def __init__(self):
        super().__init__()
        # Each run of the machine is rolled back, so runs do not see each other's rows.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.world = make_world(closed_period_policy=ClosedPeriodPolicy.POST_NEXT_OPEN)
        self.connection = self.world["connection"]
        self.actor = system_actor()
        self.amounts: dict[int, tuple[str, Decimal]] = {}  # event pk → (document type, total)
        self.closed: dict[dt.date, dict] = {}  # closed month → its documents when closed
        self.serial = 0

    def teardown(self):
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        semaphore.reset(self.connection)

    # -- driving the engine -------------------------------------------------------------
    def _dispatch(self, record, kind: str, total: Decimal, *, crash: str | None = None) -> None:
        """Create the record's sync job and post it (eagerly); with `crash`, the one post
        call fails at that point."""
        self.amounts[record.event_id] = (kind, total)
        if crash is None:
            with self.capture(execute=True):
                dispatch_module.sync_jobs_create_for_event(event=record.event, actor=self.actor)
            return
        with self.capture(execute=False):  # the task message is lost with the worker
            jobs = dispatch_module.sync_jobs_create_for_event(event=record.event, actor=self.actor)
        self.faults.next = crash
        for job in jobs:
            try:
                with self.capture(execute=True):
                    job_post(job_id=job.pk, actor=self.actor)
            except WorkerCrash:
                semaphore.reset(self.connection)  # a dead worker's slot times out
        self.faults.next = None

    def _next_id(self) -> int:
        self.serial += 1
        return self.serial

    # -- rules ----------------------------------------------------------------------------
    @rule(
        target=invoices,
        month=st.sampled_from(MONTHS),
        day=st.sampled_from([1, 14, 28]),
        cents=st.integers(1, 99_999),
        crash=st.sampled_from(
            [
                None,
                None,
                "error_before_write",
                "error_after_write",
                "death_before_write",
                "death_after_write",
            ]
        ),
    )
    def post_invoice(self, month, day, cents, crash):
        amount = Decimal(cents) / 100
        invoice = make_invoice(
            entity=self.world["entity"],
            lines=[line(str(amount), tax="1.00", tax_code="US-ST")],
            issue_date=month.replace(day=day),
            invoice_id=f"inv_{self._next_id()}",
        )
        self._dispatch(invoice, DocumentType.INVOICE, invoice.total_amount, crash=crash)
        return invoice

    @rule(invoice=invoices)
    def credit(self, invoice):
        note = make_credit_note(invoice=invoice, lines=[line("1.00", tax="0.00")])
        self._dispatch(note, DocumentType.CREDIT_NOTE, note.total_amount)

    @rule(target=payments, invoice=invoices, crash=st.sampled_from([None, "error_after_write"]))
    def pay(self, invoice, crash):
        payment = make_payment(invoice=invoice, amount="2.00")
        self._dispatch(payment, DocumentType.PAYMENT, payment.amount, crash=crash)
        return payment

    @rule(payment=consumes(payments))
    def refund(self, payment):
        refund = make_refund(payment=payment)
        self._dispatch(refund, DocumentType.REFUND, refund.amount)

    @rule(invoice=consumes(invoices))
    def write_off(self, invoice):
        write_off = make_write_off(invoice=invoice, amount="0.50")
        self._dispatch(write_off, DocumentType.WRITE_OFF, write_off.amount)

    @rule()
    def recover(self):
        """Time passes: retries fall due, dead workers' leases expire, the sweeper runs."""
        SyncJob.objects.filter(state=SyncJobState.RETRY_WAIT).update(
            next_attempt_at=timezone.now() - dt.timedelta(seconds=5)
        )
        SyncJob.objects.filter(state=SyncJobState.IN_FLIGHT).update(
            lease_expires_at=timezone.now() - dt.timedelta(seconds=5)
        )
        with self.capture(execute=True):
            sync_sweep(actor=self.actor)

    @precondition(lambda self: self.amounts)
    @rule(data=st.data())
    def replay(self, data):
        """Dispatch an event again and re-run its post task: the ledger does not change."""
        event_id = data.draw(st.sampled_from(sorted(self.amounts)))
        jobs = list(SyncJob.objects.filter(event_id=event_id))
        before = ledger(self.connection)
        with self.capture(execute=True):
            dispatch_module.sync_jobs_create_for_event(event=jobs[0].event, actor=self.actor)
            for job in jobs:
                job_post(job_id=job.pk, actor=self.actor)
        posted = [job for job in jobs if job.state == SyncJobState.POSTED]
        if posted:  # a posted job's document exists: the replay must leave it alone
            assert ledger(self.connection) == before
        assert SyncJob.objects.filter(event_id=event_id).count() == len(jobs)

    @rule(month=st.sampled_from(MONTHS))
    def close_period(self, month):
        sandbox_close_month(self.connection, month)
        self.closed.setdefault(month, self._documents_in(month))

    # -- invariants -----------------------------------------------------------------------
    def _documents_in(self, month: dt.date) -> dict:
        return {
            external_id: doc
            for external_id, doc in ledger(self.connection).items()
            if doc[1].replace(day=1) == month
        }

    @invariant()
    def every_journal_balances(self):
        for doc in SandboxDocument.objects.filter(connection=self.connection).annotate(
            debit=Sum("entries__debit_amount"), credit=Sum("entries__credit_amount")
        ):
            assert doc.debit == doc.credit, (doc.external_id, doc.debit, doc.credit)

    @invariant()
    def balances_equal_the_sum_of_posted_documents(self):
        posted = dict(
            SyncJob.objects.filter(state=SyncJobState.POSTED).values_list("external_id", "event_id")
        )
        documents = set(
            SandboxDocument.objects.filter(connection=self.connection).values_list(
                "external_id", flat=True
            )
        )
        # A document the ERP wrote before the worker died belongs to a job not yet marked
        # posted; every posted job has its document, and no job has two (external ids are
        # unique per connection).
        assert set(posted) <= documents
        unmarked = documents - set(posted)
        assert unmarked <= set(
            SyncJob.objects.exclude(state=SyncJobState.POSTED).values_list("external_id", flat=True)
        )
        expected = sum(
            (
                RECEIVABLE_SIGN[self.amounts[event][0]] * self.amounts[event][1]
                for external_id, event in posted.items()
            ),
            Decimal(0),
        )
        entries = SandboxEntry.objects.filter(
            document__connection=self.connection,
            document__external_id__in=list(posted),
            account=RECEIVABLE,
        ).aggregate(debit=Sum("debit_amount"), credit=Sum("credit_amount"))
        held = (entries["debit"] or Decimal(0)) - (entries["credit"] or Decimal(0))
        assert held == expected

    @invariant()
    def closed_periods_never_change(self):
        for month, documents in self.closed.items():
            assert self._documents_in(month) == documents, month


def test_ledger_invariants_hold_under_random_posting_replays_closes_and_crashes(
    django_capture_on_commit_callbacks, monkeypatch
):
    faults = Faults()
    faults.install(monkeypatch)
    LedgerMachine.capture = staticmethod(django_capture_on_commit_callbacks)
    LedgerMachine.faults = faults

    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=15,
            stateful_step_count=20,
            deadline=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        ),
    )
