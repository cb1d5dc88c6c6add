"""Non-retryable answers: dead at once with a case of the error's code; raw answer kept."""

import pytest

from erp_sync.adapters.base import UnparseableResponseError
from erp_sync.choices import AttemptOutcome, SyncJobState
from exceptions.models import Case
from tests.erp_sync.factories import RECEIVABLE, make_invoice
from tests.erp_sync.job_helpers import (
    CallCounter,
    dispatch,
    documents_for,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def test_post_rejected_by_erp_dead_with_case(django_capture_on_commit_callbacks):
    make_world(settings={"reject_accounts": [RECEIVABLE]})
    [job] = dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert job.state == SyncJobState.DEAD
    assert job.last_error_code == "erp_rejected"
    assert documents_for(job) == 0
    attempt = job.attempt_log.get()
    assert attempt.outcome == AttemptOutcome.DEAD
    assert attempt.error_class == "NonRetryableError"
    case = Case.objects.get(kind="erp_rejected", subject_id=str(job.pk))
    assert "unknown account" in case.detail["error"]


def test_post_unparseable_answer_dead_keeps_raw(django_capture_on_commit_callbacks, monkeypatch):
    make_world()
    CallCounter(monkeypatch, failures=[UnparseableResponseError("not JSON", raw="<html>oops")])
    [job] = dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)

    job.refresh_from_db()
    assert job.state == SyncJobState.DEAD
    assert job.last_error_code == "erp_unparseable"
    assert job.attempt_log.get().response["raw"] == "<html>oops"
    assert Case.objects.filter(kind="erp_unparseable", subject_id=str(job.pk)).exists()
