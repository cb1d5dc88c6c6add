"""Console: the sync-jobs monitor and one job, with commands only for those allowed."""

import pytest
from django.test import Client

from erp_sync.choices import DocumentType, SyncJobState
from erp_sync.models import SyncJob
from tests.erp_sync.factories import make_invoice
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _jobs(capture):
    world = make_world()
    posted = dispatch(make_invoice().event, capture=capture)[0]
    world["rules"][DocumentType.INVOICE].delete()
    dead = dispatch(make_invoice().event, capture=capture)[0]
    return posted, dead


def test_monitor_lists_jobs_with_counts_and_filters(role_users, django_capture_on_commit_callbacks):
    posted, dead = _jobs(django_capture_on_commit_callbacks)
    client = _client(role_users["auditor"])

    page = client.get("/erp/jobs/")
    only_dead = client.get("/erp/jobs/", {"state": "dead"})

    assert page.status_code == 200
    assert page.context["counts"]["posted"] == 1 and page.context["counts"]["dead"] == 1
    assert f'data-job-id="{posted.pk}"' in page.content.decode()
    assert [job.pk for job in only_dead.context["page"]] == [dead.pk]


def test_detail_shows_lineage_and_buttons_only_with_permission(
    role_users, django_capture_on_commit_callbacks
):
    _, dead = _jobs(django_capture_on_commit_callbacks)

    as_auditor = _client(role_users["auditor"]).get(f"/erp/jobs/{dead.pk}/").content.decode()
    as_ops = _client(role_users["finance_ops"]).get(f"/erp/jobs/{dead.pk}/").content.decode()

    assert 'data-testid="job-lineage"' in as_auditor
    assert 'data-testid="job-actions"' not in as_auditor
    assert 'data-testid="job-actions"' in as_ops
    assert "Replay" in as_ops and "Cancel job" in as_ops


def test_cancel_from_console_needs_reason_then_cancels(
    role_users, django_capture_on_commit_callbacks
):
    _, dead = _jobs(django_capture_on_commit_callbacks)
    client = _client(role_users["finance_ops"])

    client.post(f"/erp/jobs/{dead.pk}/cancel", {"reason": ""})
    assert SyncJob.objects.get(pk=dead.pk).state == SyncJobState.DEAD
    client.post(f"/erp/jobs/{dead.pk}/cancel", {"reason": "not ours"})
    assert SyncJob.objects.get(pk=dead.pk).state == SyncJobState.CANCELLED


def test_replay_from_console_forbidden_without_permission(
    role_users, django_capture_on_commit_callbacks
):
    _, dead = _jobs(django_capture_on_commit_callbacks)
    response = _client(role_users["auditor"]).post(f"/erp/jobs/{dead.pk}/replay")

    assert response.status_code == 403
    dead.refresh_from_db()
    assert dead.state == SyncJobState.DEAD


def test_case_remediation_offers_replay_and_cancel(role_users, django_capture_on_commit_callbacks):
    from exceptions.models import Case
    from exceptions.remediation import case_remediate, case_remediations

    _, dead = _jobs(django_capture_on_commit_callbacks)
    case = Case.objects.get(kind="mapping_missing")
    ops = role_users["finance_ops"]

    keys = {action.key for action in case_remediations(case, ops)}
    message = case_remediate(case=case, key="cancel", actor=ops)

    assert keys == {"replay", "cancel"}
    assert "cancelled" in message
    assert SyncJob.objects.get(pk=dead.pk).state == SyncJobState.CANCELLED
