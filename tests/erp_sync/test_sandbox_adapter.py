import dataclasses
import datetime as dt
import random

import pytest

from erp_sync.adapters.base import (
    NonRetryableError,
    ParentMissingError,
    PeriodClosedError,
    RetryableError,
)
from erp_sync.adapters.registry import adapter_for
from erp_sync.adapters.sandbox import SandboxAdapter
from erp_sync.builders import build_document
from erp_sync.models import SandboxDocument, SandboxEntry
from tests.erp_sync.factories import (
    RECEIVABLE,
    ConnectionFactory,
    LegalEntityFactory,
    default_rules,
    make_invoice,
    make_payment,
    sandbox_close_month,
)

pytestmark = pytest.mark.django_db


class FixedRandom(random.Random):
    """random() answers from a script (then 0.99: no fault)."""

    def __init__(self, *values: float):
        super().__init__(0)
        self.values = list(values)

    def random(self) -> float:
        return self.values.pop(0) if self.values else 0.99


@pytest.fixture
def connection():
    connection = ConnectionFactory(entity=LegalEntityFactory(code="US01"))
    default_rules("US01")
    return connection


def invoice_doc(connection, **kwargs):
    invoice = make_invoice(entity=connection.entity, **kwargs)
    return invoice, build_document(event=invoice.event, connection=connection).document


def sandbox(connection, *values, **settings) -> SandboxAdapter:
    connection.settings = settings
    return SandboxAdapter(connection, rng=FixedRandom(*values), sleep=lambda s: None)


def test_post_new_document_creates_entries_and_number(connection):
    _, doc = invoice_doc(connection)

    result = sandbox(connection).post(doc)

    stored = SandboxDocument.objects.get()
    assert result.created is True
    assert result.number == stored.number == f"SBX-US01-{stored.pk:06d}"
    assert stored.total_amount == doc.total and stored.external_id == doc.external_id
    entries = SandboxEntry.objects.filter(document=stored)
    assert sum(e.debit_amount for e in entries) == sum(e.credit_amount for e in entries)
    assert entries.get(account=RECEIVABLE).debit_amount == doc.total


def test_post_same_document_twice_is_idempotent(connection):
    _, doc = invoice_doc(connection)
    adapter = sandbox(connection)

    first = adapter.post(doc)
    second = adapter.post(doc)

    assert second.created is False and second.erp_id == first.erp_id
    assert SandboxDocument.objects.count() == 1
    assert adapter.find(doc.external_id).number == first.number


def test_post_drop_after_commit_leaves_one_document_and_retry_finds_it(connection):
    _, doc = invoice_doc(connection)
    # draws per post: error_rate, rate_429 (no faults), then drop_after_commit: 0.0 → drop.
    adapter = sandbox(
        connection, 0.5, 0.5, 0.0, drop_after_commit_rate=0.5, error_rate=0.1, rate_429=0.1
    )

    with pytest.raises(RetryableError, match="after commit"):
        adapter.post(doc)
    retry = adapter.post(doc)

    assert SandboxDocument.objects.count() == 1
    assert retry.created is False


def test_post_during_outage_raises_retryable_and_stores_nothing(connection):
    _, doc = invoice_doc(connection)
    adapter = sandbox(
        connection,
        outage=[{"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}],
    )
    adapter.now = lambda: dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.UTC)

    with pytest.raises(RetryableError, match="connection refused"):
        adapter.post(doc)
    assert adapter.health().ok is False
    adapter.now = lambda: dt.datetime(2026, 1, 1, 1, 0, tzinfo=dt.UTC)
    assert adapter.post(doc).created is True


def test_post_error_rate_raises_503_and_429_has_retry_after(connection):
    _, doc = invoice_doc(connection)

    with pytest.raises(RetryableError, match="503"):
        sandbox(connection, 0.0, error_rate=0.5).post(doc)
    with pytest.raises(RetryableError, match="429") as limited:
        sandbox(connection, 0.9, 0.0, error_rate=0.5, rate_429=0.5).post(doc)

    assert limited.value.retry_after > 0
    assert SandboxDocument.objects.count() == 0


def test_post_into_closed_period_raises_period_closed(connection):
    _, doc = invoice_doc(connection, issue_date=dt.date(2026, 4, 10))
    sandbox_close_month(connection, dt.date(2026, 4, 1))

    with pytest.raises(PeriodClosedError, match="2026-04"):
        sandbox(connection).post(doc)
    assert SandboxDocument.objects.count() == 0


def test_post_payment_before_its_invoice_raises_parent_missing(connection):
    invoice, invoice_document = invoice_doc(connection)
    payment = make_payment(invoice=invoice)
    payment_doc = build_document(event=payment.event, connection=connection).document
    adapter = sandbox(connection)

    with pytest.raises(ParentMissingError):
        adapter.post(payment_doc)
    adapter.post(invoice_document)

    assert adapter.post(payment_doc).created is True


def test_post_unknown_account_raises_non_retryable_naming_it(connection):
    _, doc = invoice_doc(connection)
    bad = dataclasses.replace(
        doc,
        postings=tuple(
            dataclasses.replace(p, account="9999") if p.account == RECEIVABLE else p
            for p in doc.postings
        ),
        receivable_account="9999",
    )

    with pytest.raises(NonRetryableError, match="9999") as refused:
        sandbox(connection).post(bad)

    assert not refused.value.retryable
    assert SandboxDocument.objects.count() == 0


def test_post_unbalanced_document_refused(connection):
    _, doc = invoice_doc(connection)
    bad = dataclasses.replace(doc, postings=doc.postings[:-1])

    with pytest.raises(NonRetryableError, match="does not balance"):
        sandbox(connection).post(bad)


def test_list_documents_returns_period_documents_of_entity(connection):
    _, may = invoice_doc(connection, issue_date=dt.date(2026, 5, 14))
    _, june = invoice_doc(connection, issue_date=dt.date(2026, 6, 2))
    adapter = sandbox(connection)
    adapter.post(may)
    adapter.post(june)

    listed = adapter.list_documents("US01", dt.date(2026, 5, 1), dt.date(2026, 5, 31))

    assert [d.external_id for d in listed] == [may.external_id]
    assert listed[0].total == may.total and listed[0].kind == "invoice"


def test_missing_accounts_honours_chart_and_reject_list(connection):
    adapter = sandbox(connection, reject_accounts=["1000"])

    assert adapter.missing_accounts({"1000", "1100", "7777"}) == {"1000", "7777"}


def test_latency_includes_the_sandbox_work(connection):
    """Each call answers latency_ms after it started: the sandbox sleeps only what its own
    queries left of it."""
    slept = []
    connection.settings = {"latency_ms": 250}
    adapter = SandboxAdapter(connection, sleep=slept.append)

    adapter.health()
    adapter.find("nothing")

    assert len(slept) == 2
    assert all(0.2 < seconds < 0.25 for seconds in slept)


def test_adapter_for_sandbox_connection_returns_sandbox(connection):
    assert isinstance(adapter_for(connection), SandboxAdapter)


def test_post_racing_insert_answers_with_the_winners_document(connection):
    _, doc = invoice_doc(connection)
    winner = sandbox(connection).post(doc)
    loser = sandbox(connection)
    real_lookup = loser._lookup

    def lookup_before_the_winner(document):
        # What the loser's look-up saw before the winner's insert committed.
        found = real_lookup(document)
        found.existing = None
        return found

    loser._lookup = lookup_before_the_winner

    result = loser.post(doc)

    assert result.created is False and result.erp_id == winner.erp_id
    assert SandboxDocument.objects.count() == 1
