"""A document without a mapping rule: dead job + case; fix the rule, replay → posted once."""

import pytest

from billing.choices import ErpStatus
from erp_sync.choices import DocumentType, SyncJobState
from erp_sync.models import SyncJob
from erp_sync.services.jobs import jobs_replay
from exceptions.models import Case, CaseState
from tests.erp_sync.factories import MappingRuleFactory, make_invoice
from tests.erp_sync.job_helpers import (
    dispatch,
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def _world_without_invoice_rule():
    world = make_world()
    world["rules"][DocumentType.INVOICE].delete()
    return world


def test_dispatch_mapping_missing_dead_with_case(django_capture_on_commit_callbacks):
    _world_without_invoice_rule()
    invoice = make_invoice()

    [job] = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)

    job.refresh_from_db()
    invoice.refresh_from_db()
    assert job.state == SyncJobState.DEAD
    assert job.last_error_code == "mapping_missing"
    assert job.attempt_log.count() == 0  # nothing reached the ERP
    assert invoice.erp_status == ErpStatus.DEAD
    case = Case.objects.get(kind="mapping_missing")
    assert case.state == CaseState.OPEN
    assert case.entity == "US01"
    assert case.subject == job.connection
    [item] = case.items.all()
    assert item.subject_id == str(job.pk)
    assert item.label == f"invoice {invoice.invoice_id}"
    assert item.value_amount == invoice.total_amount
    assert item.customer == invoice.customer.customer_id
    assert item.period == "2026-05"


def test_many_jobs_blocked_by_one_missing_rule_are_one_case_with_count_and_value(
    django_capture_on_commit_callbacks,
):
    _world_without_invoice_rule()
    invoices = [make_invoice() for _ in range(4)]
    for invoice in invoices:
        dispatch(invoice.event, capture=django_capture_on_commit_callbacks)

    case = Case.objects.get()
    assert case.kind == "mapping_missing"
    assert case.title.startswith("No invoice rule for US01 / ")
    assert case.item_count == 4
    assert case.items.count() == 4
    assert sum(i.value_amount for i in case.items.all()) == sum(i.total_amount for i in invoices)
    assert case.history.filter(history_change_reason__contains="(+ invoice").count() == 3


def test_replay_after_rule_fixed_posts_once_and_resolves_case(
    django_capture_on_commit_callbacks, make_user
):
    _world_without_invoice_rule()
    invoices = [make_invoice() for _ in range(3)]
    for invoice in invoices:
        dispatch(invoice.event, capture=django_capture_on_commit_callbacks)
    MappingRuleFactory(entity="US01", document_type=DocumentType.INVOICE)
    person = make_user("ops", "finance_ops")

    dead = SyncJob.objects.filter(state=SyncJobState.DEAD, last_error_code="mapping_missing")
    with django_capture_on_commit_callbacks(execute=True):
        counts = jobs_replay(jobs=dead, actor=person, reason="rule added")
    with django_capture_on_commit_callbacks(execute=True):
        again = jobs_replay(jobs=SyncJob.objects.all(), actor=person)

    assert counts == {"replayed": 3, "already_posted": 0, "failed": 0, "skipped": 0}
    assert again["already_posted"] == 3 and again["replayed"] == 0
    for job in SyncJob.objects.all():
        assert job.state == SyncJobState.POSTED
        assert documents_for(job) == 1
        assert job.mapping_rules.filter(document_type=DocumentType.INVOICE).exists()
        replay_row = job.history.filter(history_change_reason__startswith="replayed").get()
        assert replay_row.history_user == person
        assert "rule added" in replay_row.history_change_reason
    assert not Case.objects.filter(kind="mapping_missing", state=CaseState.OPEN).exists()
    case = Case.objects.get(kind="mapping_missing")
    assert case.state == CaseState.RESOLVED
    assert case.item_count == 0
    assert not case.items.filter(cleared_at__isnull=True).exists()
    assert case.history.filter(history_change_reason__contains="all blocked records").exists()


def test_replay_while_rule_still_missing_stays_dead_and_bumps_case(
    django_capture_on_commit_callbacks,
):
    _world_without_invoice_rule()
    invoice = make_invoice()
    [job] = dispatch(invoice.event, capture=django_capture_on_commit_callbacks)

    counts = jobs_replay(jobs=SyncJob.objects.all(), actor=None)

    job.refresh_from_db()
    assert counts["failed"] == 1
    assert job.state == SyncJobState.DEAD
    assert Case.objects.get(kind="mapping_missing").occurrences == 2
