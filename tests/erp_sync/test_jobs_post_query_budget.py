"""Posting costs a bounded number of SQL statements, and a batch costs the engine no more
statements than one job: its writes are set-based (the hot path)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from erp_sync.actors import system_actor
from erp_sync.choices import SyncJobState
from erp_sync.models import SyncAttempt, SyncJob
from erp_sync.services.posting import job_post
from tests.erp_sync.job_helpers import (
    eager_celery,  # noqa: F401 (fixture)
    make_world,
    pending_jobs,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]

# Statements one clean post may run, transaction control excluded: 15 of the engine (plus
# the `last_success_at` refresh at most every 10 s) and 5 of the sandbox ERP itself.
QUERY_BUDGET = 21


def _statements(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if not q["sql"].upper().startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "BEGIN", "COMMIT"))
    ]


def _engine(statements: list[str]) -> list[str]:
    """The statements of the engine, not of the sandbox ERP it calls."""
    return [sql for sql in statements if '"erp_sync_sandbox' not in sql.split(" WHERE ")[0]]


def test_post_clean_invoice_job_stays_within_query_budget():
    make_world()
    [job] = pending_jobs(1)
    actor = system_actor()
    with CaptureQueriesContext(connection) as queries:
        outcome = job_post(job_id=job.pk, actor=actor)
    job.refresh_from_db()
    assert outcome == "posted"
    assert job.state == SyncJobState.POSTED
    statements = _statements(queries)
    assert len(statements) <= QUERY_BUDGET, "\n".join(statements)


def test_a_batch_costs_the_engine_the_statements_of_one_job():
    make_world()
    single = pending_jobs(1)
    batch = pending_jobs(6)
    actor = system_actor()
    with CaptureQueriesContext(connection) as one:
        assert job_post(job_id=single[0].pk, actor=actor) == "posted"
    with CaptureQueriesContext(connection) as many:
        assert job_post(job_id=batch[0].pk, actor=actor, batch_size=6) == "posted"

    assert set(SyncJob.objects.values_list("state", flat=True)) == {SyncJobState.POSTED}
    assert SyncAttempt.objects.count() == 7
    # The same statements for six jobs as for one; the batch was full, so the task drained
    # on: one more connection read and one claim that found nothing (the last_success_at
    # refresh of the single post may be skipped by the batch).
    assert len(_engine(_statements(many))) <= len(_engine(_statements(one))) + 2, "\n".join(
        _engine(_statements(many))
    )
