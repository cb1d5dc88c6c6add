"""The closed-period guide on the case page and its commands (issue 11): who sees which
button, the confirmation naming the count, a forced POST without the permission (403), the
replay button's clear refusal."""

import datetime as dt

import pytest
from django.test import Client

from erp_sync.choices import ClosedPeriodPolicy, SyncJobState
from erp_sync.models import SyncJob, SyncJobBulkAction
from exceptions.models import Case
from tests.erp_sync.factories import make_invoice, sandbox_close_month
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
MAY = dt.date(2026, 5, 14)


@pytest.fixture
def held_case(django_capture_on_commit_callbacks):
    world = make_world(closed_period_policy=ClosedPeriodPolicy.HOLD)
    sandbox_close_month(world["connection"], MAY)
    for _ in range(2):
        dispatch(make_invoice(issue_date=MAY).event, capture=django_capture_on_commit_callbacks)
    return Case.objects.get(kind="closed_period")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_case_page_guide_names_period_policy_and_both_fixes_for_ops(held_case, role_users):
    page = _client(role_users["finance_ops"]).get(f"/exceptions/{held_case.pk}/")

    text = page.content.decode()
    assert page.status_code == 200
    assert "What happened and how to fix it" in text
    assert "US01 May 2026" in text
    assert "Hold for a person" in text
    assert 'data-testid="guide-post-next-open"' in text
    assert "Post 2 documents into June 2026" in text
    assert 'data-testid="guide-wait"' in text


@pytest.mark.parametrize("role", ["auditor", "channel_manager", "integration_admin"])
def test_guide_shows_no_post_button_without_the_permission(held_case, role_users, role):
    text = _client(role_users[role]).get(f"/exceptions/{held_case.pk}/").content.decode()

    assert "US01 May 2026" in text
    assert 'data-testid="guide-post-next-open"' not in text


@pytest.mark.parametrize("role", ["auditor", "channel_manager", "integration_admin"])
def test_forced_post_without_the_permission_is_403(held_case, role_users, role):
    answer = _client(role_users[role]).post(
        f"/erp/closed-periods/{held_case.pk}/post-next-open",
        {"posting_date": "2026-06-01", "confirm": "yes"},
    )

    assert answer.status_code == 403
    assert not SyncJobBulkAction.objects.exists()


def test_post_asks_first_naming_the_count_then_posts(
    held_case, role_users, django_capture_on_commit_callbacks
):
    ops = _client(role_users["finance_ops"])
    url = f"/erp/closed-periods/{held_case.pk}/post-next-open"

    asked = ops.post(url, {"posting_date": "2026-06-01"})

    assert asked.status_code == 200
    assert "Post 2 held documents into June 2026?" in asked.content.decode()
    assert not SyncJobBulkAction.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        done = ops.post(url, {"posting_date": "2026-06-01", "confirm": "yes", "reason": "ok"})

    action = SyncJobBulkAction.objects.get()
    assert done.status_code == 302 and done.url == f"/erp/jobs/bulk/{action.pk}/"
    page = ops.get(done.url).content.decode()
    assert "June 2026" in page and "2 posted" in page
    assert set(SyncJob.objects.values_list("state", flat=True)) == {SyncJobState.POSTED}
    held_case.refresh_from_db()
    assert held_case.state == "resolved"


def test_replay_from_the_job_page_says_it_cannot_succeed(held_case, role_users):
    job = SyncJob.objects.order_by("pk").first()
    ops = _client(role_users["finance_ops"])

    answer = ops.post(f"/erp/jobs/{job.pk}/replay", {"reason": "again"}, follow=True)

    assert "still closed" in answer.content.decode()
    job.refresh_from_db()
    assert job.state == SyncJobState.HELD


def test_wait_acknowledges_the_case(held_case, role_users):
    answer = _client(role_users["finance_ops"]).post(
        f"/erp/closed-periods/{held_case.pk}/wait", follow=True
    )

    held_case.refresh_from_db()
    assert held_case.state == "acknowledged"
    assert "posted when the ERP reopens" in answer.content.decode()
