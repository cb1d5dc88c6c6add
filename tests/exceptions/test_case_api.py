from datetime import timedelta

import pytest
from django.utils import timezone

from exceptions.models import CaseState
from tests.exceptions.factories import CaseCommentFactory, CaseFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/cases"


def _ids(response):
    return {row["id"] for row in response.json()["results"]}


def test_list_as_auditor_returns_cases_with_pagination(api_for_role):
    case = CaseFactory(entity="US01", period="2026-05")
    response = api_for_role("auditor").get(URL)
    assert response.status_code == 200
    body = response.json()
    assert len(body["results"]) == 1 and body["next"] is None
    row = body["results"][0]
    assert row["id"] == case.pk
    assert row["subject_type"] == "accounts.user"
    assert (row["state"], row["entity"], row["period"]) == ("open", "US01", "2026-05")


def test_list_with_read_scope_client_is_allowed(api_with_scopes):
    CaseFactory()
    assert api_with_scopes("read").get(URL).status_code == 200


def test_list_without_read_scope_is_forbidden(api_with_scopes):
    assert api_with_scopes("events:write").get(URL).status_code == 403


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("state=acknowledged", "acked"),
        ("state=open&state=acknowledged", "active"),
        ("severity=critical", "critical"),
        ("kind=closed_period", "closed_period"),
        ("entity=DE01", "de"),
        ("customer=c-7", "de"),
        ("partner=p-3", "partner"),
        ("period=2026-04", "april"),
        ("subject_type=user", "all"),
        ("subject_type=accounts.user", "all"),
        ("subject_type=financeevent", "none"),
        ("overdue=true", "overdue"),
    ],
)
def test_list_filters_narrow_the_result(api_for_role, query, wanted):
    now = timezone.now()
    cases = {
        "plain": CaseFactory(severity="high", period="2026-05"),
        "acked": CaseFactory(acknowledged=True, period="2026-05"),
        "critical": CaseFactory(severity="critical", period="2026-05"),
        "closed_period": CaseFactory(kind="closed_period", period="2026-05"),
        "de": CaseFactory(entity="DE01", customer="c-7", period="2026-05"),
        "partner": CaseFactory(partner="p-3", period="2026-05"),
        "april": CaseFactory(period="2026-04"),
        "overdue": CaseFactory(sla_due_at=now - timedelta(hours=1), period="2026-05"),
        "late_but_resolved": CaseFactory(
            resolved=True, sla_due_at=now - timedelta(hours=1), period="2026-05"
        ),
    }
    expected = {
        "active": {c.pk for k, c in cases.items() if k != "late_but_resolved"},
        "all": {c.pk for c in cases.values()},
        "none": set(),
    }.get(wanted, {cases[wanted].pk} if wanted in cases else None)

    response = api_for_role("auditor").get(f"{URL}?{query}&page_size=100")

    assert response.status_code == 200
    assert _ids(response) == expected


def test_list_filter_by_owner(api_for_role, role_users):
    owned = CaseFactory(owner=role_users["finance_ops"])
    CaseFactory()
    response = api_for_role("auditor").get(f"{URL}?owner={role_users['finance_ops'].pk}")
    assert _ids(response) == {owned.pk}


def test_list_query_count_is_bounded(api_for_role, django_assert_max_num_queries):
    api = api_for_role("auditor")
    for _ in range(30):
        CaseFactory(owner=UserFactory())
    with django_assert_max_num_queries(8):
        response = api.get(URL)
    assert len(response.json()["results"]) == 30


def test_retrieve_includes_comments_history_and_remediations(
    api_for_role, user_remediation, role_users
):
    comment = CaseCommentFactory(body="Asked billing")
    response = api_for_role("finance_ops").get(f"{URL}/{comment.case_id}")
    assert response.status_code == 200
    body = response.json()
    assert [c["body"] for c in body["comments"]] == ["Asked billing"]
    assert body["history"][0]["state"] == "open"
    assert body["remediations"] == [
        {"key": "activate", "label": "Activate user", "style": "primary"}
    ]


def test_retrieve_unknown_case_is_404(api_for_role):
    response = api_for_role("auditor").get(f"{URL}/999999")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "not_found"


def test_acknowledge_as_finance_ops_takes_the_case(api_for_role, role_users):
    case = CaseFactory()
    response = api_for_role("finance_ops").post(f"{URL}/{case.pk}/acknowledge", {}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "acknowledged"
    assert response.json()["owner"] == role_users["finance_ops"].username


def test_acknowledge_with_owner_assigns_owner(api_for_role, role_users):
    case = CaseFactory()
    owner = role_users["channel_manager"]
    response = api_for_role("finance_ops").post(
        f"{URL}/{case.pk}/acknowledge", {"owner": owner.pk}, format="json"
    )
    assert response.json()["owner"] == owner.username


@pytest.mark.parametrize(("action", "state"), [("resolve", "resolved"), ("dismiss", "dismissed")])
def test_close_with_reason_closes_the_case(api_for_role, action, state):
    case = CaseFactory()
    response = api_for_role("finance_ops").post(
        f"{URL}/{case.pk}/{action}", {"reason": "fixed upstream"}, format="json"
    )
    assert response.status_code == 200
    assert (response.json()["state"], response.json()["resolution"]) == (state, "fixed upstream")
    assert response.json()["history"][-1]["reason"] == f"{state}: fixed upstream"


@pytest.mark.parametrize("action", ["resolve", "dismiss"])
def test_close_without_reason_is_400_with_field(api_for_role, action):
    case = CaseFactory()
    response = api_for_role("finance_ops").post(f"{URL}/{case.pk}/{action}", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "reason", "code": "reason_required", "message": "a reason is required"}
    ]


def test_illegal_transition_is_409(api_for_role):
    case = CaseFactory(dismissed=True)
    response = api_for_role("finance_ops").post(
        f"{URL}/{case.pk}/resolve", {"reason": "x"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "illegal_transition"


@pytest.mark.parametrize("role", ["finance_ops", "channel_manager"])
def test_comment_by_commenting_role_is_created(api_for_role, role_users, role):
    case = CaseFactory()
    response = api_for_role(role).post(
        f"{URL}/{case.pk}/comments", {"body": "On it"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["author"] == role_users[role].username
    assert case.comments.get().body == "On it"


def test_remediate_performs_the_action(api_for_role, user_remediation):
    case = CaseFactory()
    response = api_for_role("finance_ops").post(
        f"{URL}/{case.pk}/remediate", {"action": "activate"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["message"].startswith("activate done")
    assert response.json()["case"]["state"] == "resolved"


def test_remediate_unknown_action_is_400(api_for_role, user_remediation):
    case = CaseFactory()
    response = api_for_role("finance_ops").post(
        f"{URL}/{case.pk}/remediate", {"action": "nope"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "unknown_remediation"


def test_write_scope_client_resolves_and_is_recorded_as_actor(api_with_scopes):
    case = CaseFactory()
    response = api_with_scopes("read", "cases:write").post(
        f"{URL}/{case.pk}/resolve", {"reason": "synced"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["history"][-1]["actor"].startswith("api:client-")


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("acknowledge", {}),
        ("resolve", {"reason": "x"}),
        ("dismiss", {"reason": "x"}),
        ("comments", {"body": "x"}),
        ("remediate", {"action": "activate"}),
    ],
)
def test_actions_as_auditor_are_forbidden(api_for_role, user_remediation, action, payload):
    case = CaseFactory()
    response = api_for_role("auditor").post(f"{URL}/{case.pk}/{action}", payload, format="json")
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.state == CaseState.OPEN
    assert case.comments.count() == 0


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "dismiss", "comments", "remediate"])
def test_actions_by_read_only_client_are_forbidden(api_with_scopes, action):
    case = CaseFactory()
    response = api_with_scopes("read").post(f"{URL}/{case.pk}/{action}", {}, format="json")
    assert response.status_code == 403


def test_resolve_as_channel_manager_is_forbidden(api_for_role):
    case = CaseFactory()
    response = api_for_role("channel_manager").post(
        f"{URL}/{case.pk}/resolve", {"reason": "x"}, format="json"
    )
    assert response.status_code == 403


def test_action_on_unknown_case_is_404(api_for_role):
    response = api_for_role("finance_ops").post(
        f"{URL}/999999/resolve", {"reason": "x"}, format="json"
    )
    assert response.status_code == 404


def test_anonymous_list_is_refused(client):
    assert client.get(URL).status_code in (401, 403)
