"""The same task message twice (or a message for a job in flight elsewhere) posts once."""

import pytest

from erp_sync.choices import SyncJobState
from erp_sync.services.posting import job_post
from erp_sync.tasks import post_job
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import (
    CallCounter,
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def test_post_task_sent_twice_posts_once(django_capture_on_commit_callbacks, monkeypatch):
    make_world()
    counter = CallCounter(monkeypatch)
    invoice = make_invoice()
    from erp_sync.services.dispatch import sync_jobs_create_for_event

    with django_capture_on_commit_callbacks(execute=False):
        [job] = sync_jobs_create_for_event(event=invoice.event, actor=None)

    with django_capture_on_commit_callbacks(execute=True):
        first = post_job.apply(kwargs={"job_id": job.pk}).get()
        second = post_job.apply(kwargs={"job_id": job.pk}).get()

    job.refresh_from_db()
    assert (first, second) == ("posted", "skipped")
    assert job.state == SyncJobState.POSTED
    assert counter.calls == 1
    assert documents_for(job) == 1
    assert job.attempt_log.count() == 1


def test_post_missing_job_is_a_noop(db):
    assert job_post(job_id=987654, actor=None) == "missing"
