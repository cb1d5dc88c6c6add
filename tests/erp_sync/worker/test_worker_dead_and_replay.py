"""(d) A non-retryable answer dead-letters with a case; (e) a fixed mapping + replay posts
once — both through a real worker."""

import pytest

from erp_sync.choices import DocumentType, SyncJobState
from erp_sync.models import SandboxDocument, SyncJob
from erp_sync.services.jobs import jobs_replay
from exceptions.models import Case, CaseState
from tests.erp_sync.factories import RECEIVABLE, MappingRuleFactory
from tests.erp_sync.worker.conftest import wait_until
from tests.erp_sync.worker.helpers import all_in, dispatch_invoices, world

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_worker_non_retryable_dead_with_case(start_worker):
    start_worker(concurrency=2)
    world(settings={"reject_accounts": [RECEIVABLE]})

    [job] = dispatch_invoices(1)

    wait_until(lambda: all_in([job], SyncJobState.DEAD), timeout=20, message="not dead")
    job.refresh_from_db()
    assert job.last_error_code == "erp_rejected"
    assert job.attempts == 1
    assert Case.objects.get(kind="erp_rejected", subject_id=str(job.pk)).state == CaseState.OPEN


def test_worker_mapping_fixed_then_replay_posts_once(start_worker):
    start_worker(concurrency=2)
    w = world()
    w["rules"][DocumentType.INVOICE].delete()
    jobs = dispatch_invoices(2)
    assert all_in(jobs, SyncJobState.DEAD)

    MappingRuleFactory(entity="US01", document_type=DocumentType.INVOICE)
    dead = SyncJob.objects.filter(state=SyncJobState.DEAD, last_error_code="mapping_missing")
    counts = jobs_replay(jobs=dead, actor=None, reason="rule added")
    jobs_replay(jobs=SyncJob.objects.all(), actor=None)  # a second click changes nothing

    assert counts["replayed"] == 2
    wait_until(lambda: all_in(jobs, SyncJobState.POSTED), timeout=20, message="not posted")
    assert SandboxDocument.objects.filter(connection=w["connection"]).count() == 2
    assert not Case.objects.filter(kind="mapping_missing", state=CaseState.OPEN).exists()
