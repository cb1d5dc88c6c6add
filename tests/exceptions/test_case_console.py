import pytest
from django.urls import reverse

from exceptions.models import CaseState
from tests.exceptions.factories import CaseCommentFactory, CaseFactory, UserFactory

pytestmark = pytest.mark.django_db

LIST = reverse("exceptions:case-list")


@pytest.fixture
def as_role(client, role_users):
    def login(role):
        client.force_login(role_users[role])
        return client

    return login


def test_list_for_finance_ops_renders_cases(as_role):
    case = CaseFactory(title="Unknown customer c-42", entity="US01")
    response = as_role("finance_ops").get(LIST)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Unknown customer c-42" in html
    assert f'data-case-id="{case.pk}"' in html
    assert 'class="badge state-open"' in html


def test_list_with_filter_shows_only_matching_cases(as_role):
    CaseFactory(title="In the US", entity="US01")
    CaseFactory(title="In Germany", entity="DE01")
    html = as_role("auditor").get(LIST, {"entity": "DE01"}).content.decode()
    assert "In Germany" in html
    assert "In the US" not in html


def test_list_pages_by_keyset(as_role):
    for _ in range(51):
        CaseFactory()
    client = as_role("auditor")
    first = client.get(LIST).context["page"]
    response = client.get(LIST, {"cursor": first.next_cursor})
    assert response.status_code == 200
    assert len(response.context["page"].rows) == 1
    assert response.context["page"].next_cursor is None
    assert "First page" in response.content.decode()


def test_list_for_user_without_roles_is_403(client):
    client.force_login(UserFactory())
    assert client.get(LIST).status_code == 403


def test_list_for_anonymous_redirects_to_login(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]


def test_list_query_count_is_bounded(as_role, django_assert_max_num_queries):
    client = as_role("finance_ops")
    for _ in range(30):
        CaseFactory(owner=UserFactory())
    with django_assert_max_num_queries(16):
        response = client.get(LIST)
    assert len(response.context["page"].rows) == 30


def test_detail_for_finance_ops_shows_comments_and_action_forms(as_role):
    comment = CaseCommentFactory(body="Called the customer")
    html = (
        as_role("finance_ops")
        .get(reverse("exceptions:case-detail", args=[comment.case_id]))
        .content.decode()
    )
    assert "Called the customer" in html
    assert 'data-testid="case-actions"' in html
    assert reverse("exceptions:case-resolve", args=[comment.case_id]) in html


def test_detail_for_auditor_hides_action_forms(as_role):
    case = CaseFactory()
    html = (
        as_role("auditor").get(reverse("exceptions:case-detail", args=[case.pk])).content.decode()
    )
    assert 'data-testid="case-actions"' not in html
    assert reverse("exceptions:case-comment", args=[case.pk]) not in html


def test_detail_of_unknown_case_is_404(as_role):
    assert (
        as_role("auditor").get(reverse("exceptions:case-detail", args=[999999])).status_code == 404
    )


@pytest.mark.parametrize(
    ("name", "data", "state"),
    [
        ("case-acknowledge", {}, CaseState.ACKNOWLEDGED),
        ("case-resolve", {"reason": "fixed"}, CaseState.RESOLVED),
        ("case-dismiss", {"reason": "noise"}, CaseState.DISMISSED),
    ],
)
def test_post_command_as_finance_ops_changes_state(as_role, role_users, name, data, state):
    case = CaseFactory()
    response = as_role("finance_ops").post(reverse(f"exceptions:{name}", args=[case.pk]), data)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == state
    assert case.history.first().history_user == role_users["finance_ops"]


def test_post_resolve_without_reason_shows_error_and_keeps_state(as_role):
    case = CaseFactory()
    response = as_role("finance_ops").post(
        reverse("exceptions:case-resolve", args=[case.pk]), {"reason": ""}, follow=True
    )
    assert "a reason is required" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.OPEN


def test_post_comment_as_channel_manager_adds_comment(as_role, role_users):
    case = CaseFactory()
    as_role("channel_manager").post(
        reverse("exceptions:case-comment", args=[case.pk]), {"body": "Partner informed"}
    )
    comment = case.comments.get()
    assert (comment.body, comment.author) == ("Partner informed", role_users["channel_manager"])


@pytest.mark.parametrize(
    ("role", "name"),
    [
        ("auditor", "case-acknowledge"),
        ("auditor", "case-resolve"),
        ("auditor", "case-dismiss"),
        ("auditor", "case-comment"),
        ("auditor", "case-remediate"),
        ("channel_manager", "case-resolve"),
    ],
)
def test_post_command_without_permission_is_403(as_role, role, name):
    case = CaseFactory()
    response = as_role(role).post(
        reverse(f"exceptions:{name}", args=[case.pk]),
        {"reason": "x", "body": "x", "action": "activate"},
    )
    assert response.status_code == 403
    case.refresh_from_db()
    assert case.state == CaseState.OPEN
    assert case.comments.count() == 0


def test_post_remediate_as_finance_ops_performs_it(as_role, user_remediation):
    case = CaseFactory()
    response = as_role("finance_ops").post(
        reverse("exceptions:case-remediate", args=[case.pk]), {"action": "activate"}, follow=True
    )
    assert "activate done" in response.content.decode()
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
