"""The reconciliation API: start a run (it executes once the start commits), read it, its
breaks and matches, accept a break, confirm suggestions; permissions and scopes."""

import pytest
from django.db import transaction

from reconciliation.choices import MatchStatus
from reconciliation.models import Break, Match, ReconciliationRun
from reconciliation.tasks import run_execute_task
from tests.reconciliation import scenario

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stateful_sandbox")]
URL = "/api/v1/reconciliation-runs"


@pytest.fixture
def ran(api_for_role, django_capture_on_commit_callbacks, monkeypatch):
    # The worker's part, inline (with REDIS_URL set, send_task would only queue it).
    monkeypatch.setattr(
        "reconciliation.services.runs.run_enqueue",
        lambda run_id: transaction.on_commit(lambda: run_execute_task(run_id=run_id)),
    )
    s = scenario.build()
    api = api_for_role("finance_ops")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL, {"entity": "US01", "period": "2026-05"}, format="json")
    assert response.status_code == 202, response.content
    return s, api, response.json()


def test_post_run_starts_and_executes_then_reads_back_completed(ran):
    s, api, started = ran

    detail = api.get(f"{URL}/{started['id']}")
    breaks = api.get(f"{URL}/{started['id']}/breaks", {"page_size": 100})

    assert started["state"] == "queued"
    assert (started["period_start"], started["period_end"]) == ("2026-05-01", "2026-05-31")
    assert detail.json()["state"] == "completed"
    assert detail.json()["break_count"] == len(s.expected)
    assert {b["key"] for b in breaks.json()["results"]} == s.expected


def test_post_break_accept_with_note_answers_accepted(ran):
    _, api, _ = ran
    item = Break.objects.get(key="tax_mismatch|invoice:INV-tax")

    response = api.post(
        f"{URL}/breaks/{item.pk}/accept", {"note": "ERP rounds per line"}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["state"] == "accepted"


def test_post_matches_confirm_bulk_confirms(ran):
    _, api, started = ran
    ids = list(
        Match.objects.filter(run_id=started["id"], status=MatchStatus.SUGGESTED).values_list(
            "pk", flat=True
        )
    )

    response = api.post(f"{URL}/matches/confirm", {"matches": ids}, format="json")

    assert response.status_code == 200, response.content
    assert {m["status"] for m in response.json()} == {"confirmed"}


def test_post_run_entity_without_connection_answers_400_naming_it(api_for_role):
    from tests.reconciliation.factories import LegalEntityFactory

    LegalEntityFactory(code="DE01")
    response = api_for_role("finance_ops").post(
        URL, {"entity": "DE01", "period": "2026-05"}, format="json"
    )

    assert response.status_code == 400
    assert "DE01" in response.json()["errors"][0]["message"]
    assert not ReconciliationRun.objects.exists()


def test_post_run_without_permission_or_scope_refused(api_for_role, api_with_scopes):
    scenario.build()
    body = {"entity": "US01", "period": "2026-05"}

    assert api_for_role("auditor").post(URL, body, format="json").status_code == 403
    assert api_with_scopes("read").post(URL, body, format="json").status_code == 403
    assert api_with_scopes("recon:write").post(URL, body, format="json").status_code == 202


def test_get_run_breaks_filtered_by_kind_within_query_budget(ran, django_assert_max_num_queries):
    _, api, started = ran

    with django_assert_max_num_queries(8):
        response = api.get(f"{URL}/{started['id']}/breaks", {"kind": "tax_mismatch"})

    assert [b["key"] for b in response.json()["results"]] == ["tax_mismatch|invoice:INV-tax"]


def test_get_breaks_list_query_count_does_not_grow_with_rows(ran, django_assert_max_num_queries):
    _, api, _ = ran

    with django_assert_max_num_queries(8):
        response = api.get(f"{URL}/breaks", {"page_size": 100})

    assert response.status_code == 200 and len(response.json()["results"]) == Break.objects.count()
