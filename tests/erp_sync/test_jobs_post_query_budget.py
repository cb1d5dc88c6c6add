"""Posting a clean invoice job costs a bounded number of SQL statements (the hot path)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from erp_sync.actors import system_actor
from erp_sync.choices import SyncJobState
from erp_sync.services.posting import job_post
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import (
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

# Statements one clean post may run, transaction control excluded (17 today, plus the
# `last_success_at` refresh at most every 10 s).
QUERY_BUDGET = 18


def _pending_invoice_job(capture):
    from erp_sync.services import dispatch as dispatch_module

    make_world()
    invoice = make_invoice()
    original = dispatch_module.enqueue_post
    dispatch_module.enqueue_post = lambda ids, **kwargs: None
    try:
        [job] = dispatch_module.sync_jobs_create_for_event(event=invoice.event, actor=None)
    finally:
        dispatch_module.enqueue_post = original
    return job


def test_post_clean_invoice_job_stays_within_query_budget(django_capture_on_commit_callbacks):
    job = _pending_invoice_job(django_capture_on_commit_callbacks)
    actor = system_actor()
    with CaptureQueriesContext(connection) as queries:
        outcome = job_post(job_id=job.pk, actor=actor)
    job.refresh_from_db()
    assert outcome == "posted"
    assert job.state == SyncJobState.POSTED
    statements = [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
    ]
    assert len(statements) <= QUERY_BUDGET, "\n".join(statements)
