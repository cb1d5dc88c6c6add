"""The sync-jobs API: list with filters, detail with attempts and lineage, commands."""

import pytest
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext

from erp_sync.choices import DocumentType, SyncJobState
from erp_sync.models import SyncJob
from tests.erp_sync.factories import MappingRuleFactory, make_invoice
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]
URL = "/api/v1/sync-jobs"


def _posted_and_dead(capture):
    world = make_world()
    posted = dispatch(make_invoice().event, capture=capture)[0]
    world["rules"][DocumentType.INVOICE].delete()
    dead = dispatch(make_invoice().event, capture=capture)[0]
    return posted, dead


def test_list_filters_by_state_and_error_code(api_for_role, django_capture_on_commit_callbacks):
    posted, dead = _posted_and_dead(django_capture_on_commit_callbacks)
    api = api_for_role("auditor")

    everything = api.get(URL).json()
    only_dead = api.get(URL, {"state": "dead", "last_error_code": "mapping_missing"}).json()
    by_entity = api.get(URL, {"entity": "US01", "document_type": "invoice"}).json()

    assert [row["id"] for row in everything["results"]] == [dead.pk, posted.pk]
    assert "next" in everything  # cursor pagination
    assert [row["id"] for row in only_dead["results"]] == [dead.pk]
    assert len(by_entity["results"]) == 2


def test_list_query_count_is_bounded(api_for_role, django_capture_on_commit_callbacks):
    make_world()
    for _ in range(5):
        dispatch(make_invoice().event, capture=django_capture_on_commit_callbacks)
    api = api_for_role("auditor")
    with CaptureQueriesContext(db_connection) as queries:
        response = api.get(URL)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 5
    assert len(queries) <= 8


def test_detail_has_attempts_and_lineage(api_for_role, django_capture_on_commit_callbacks):
    posted, _ = _posted_and_dead(django_capture_on_commit_callbacks)
    posted.refresh_from_db()

    body = api_for_role("finance_ops").get(f"{URL}/{posted.pk}").json()

    assert body["state"] == "posted"
    assert body["attempts_log"][0]["outcome"] == "posted"
    lineage = body["lineage"]
    assert lineage["event"]["id"] == posted.event.event_id
    assert lineage["record"]["kind"] == "invoice"
    assert lineage["record"]["erp_status"] == "posted"
    assert lineage["erp"]["number"] == posted.erp_number


def test_replay_posted_answers_200_already_posted(api_for_role, django_capture_on_commit_callbacks):
    posted, _ = _posted_and_dead(django_capture_on_commit_callbacks)
    posted.refresh_from_db()

    response = api_for_role("finance_ops").post(f"{URL}/{posted.pk}/replay", {}, format="json")

    assert response.status_code == 200
    assert response.json()["message"] == f"already posted as {posted.erp_number}"
    assert response.json()["replayed"] is False


def test_bulk_replay_by_filter_posts_fixed_jobs(api_for_role, django_capture_on_commit_callbacks):
    _, dead = _posted_and_dead(django_capture_on_commit_callbacks)
    MappingRuleFactory(entity="US01", document_type=DocumentType.INVOICE)
    api = api_for_role("integration_admin")

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            f"{URL}/replay",
            {"filter": {"state": "dead", "last_error_code": "mapping_missing"}, "reason": "fixed"},
            format="json",
        )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "matched": 1,
        "replayed": 1,
        "already_posted": 0,
        "failed": 0,
        "skipped": 0,
    }
    assert SyncJob.objects.get(pk=dead.pk).state == SyncJobState.POSTED


def test_bulk_replay_without_filter_refused(api_for_role, db):
    response = api_for_role("finance_ops").post(f"{URL}/replay", {"filter": {}}, format="json")
    assert response.status_code == 400


def test_cancel_needs_reason_then_cancels(api_for_role, django_capture_on_commit_callbacks):
    _, dead = _posted_and_dead(django_capture_on_commit_callbacks)
    api = api_for_role("finance_ops")

    refused = api.post(f"{URL}/{dead.pk}/cancel", {}, format="json")
    done = api.post(f"{URL}/{dead.pk}/cancel", {"reason": "duplicate invoice"}, format="json")

    assert refused.status_code == 400
    assert refused.json()["errors"][0]["code"] == "reason_required"
    assert done.status_code == 200
    assert done.json()["state"] == "cancelled"


@pytest.mark.parametrize(
    ("role", "action", "status", "after"),
    [
        ("auditor", "replay", 403, None),
        ("auditor", "cancel", 403, None),
        ("channel_manager", "replay", 403, None),
        ("integration_admin", "cancel", 403, None),
        # The queued post is not run (on_commit not executed): the replay left it pending.
        ("integration_admin", "replay", 200, SyncJobState.PENDING),
    ],
)
def test_commands_need_their_permission(
    api_for_role, django_capture_on_commit_callbacks, role, action, status, after
):
    _, dead = _posted_and_dead(django_capture_on_commit_callbacks)
    MappingRuleFactory(entity="US01", document_type=DocumentType.INVOICE)  # the cause is fixed
    with django_capture_on_commit_callbacks(execute=False):
        response = api_for_role(role).post(
            f"{URL}/{dead.pk}/{action}", {"reason": "x"}, format="json"
        )

    assert response.status_code == status
    dead.refresh_from_db()
    if status == 403:
        assert dead.state == SyncJobState.DEAD
    else:
        assert dead.state == after


def test_api_client_needs_sync_write_scope(api_with_scopes, django_capture_on_commit_callbacks):
    _, dead = _posted_and_dead(django_capture_on_commit_callbacks)

    reader = api_with_scopes("read")
    writer = api_with_scopes("read", "sync:write")

    assert reader.get(URL).status_code == 200
    assert reader.post(f"{URL}/{dead.pk}/cancel", {"reason": "x"}, format="json").status_code == 403
    assert writer.post(f"{URL}/{dead.pk}/cancel", {"reason": "x"}, format="json").status_code == 200
