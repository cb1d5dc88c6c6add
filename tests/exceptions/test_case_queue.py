"""The exception queue: filters, sorting, keyset pages, counts, bulk actions, escalation,
saved filters — over the API and in the console."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from exceptions.escalation import cases_escalate_overdue
from exceptions.models import Case, CaseState, SavedCaseFilter
from exceptions.pagination import keyset_page
from exceptions.selectors import case_counts
from exceptions.services import cases_bulk_act
from tests.exceptions.factories import CaseFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/cases"
LIST = reverse("exceptions:case-list")


@pytest.mark.parametrize(
    "sort", ["-last_seen_at", "first_seen_at", "sla_due_at", "-severity", "item_count", "kind"]
)
def test_keyset_pages_walk_every_case_once_in_order(sort):
    now = timezone.now()
    for n in range(23):
        CaseFactory(
            severity=["low", "medium", "high", "critical"][n % 4],
            kind=["unknown_customer", "mapping_missing"][n % 2],
            first_seen_at=now - timedelta(hours=n % 5),
            last_seen_at=now - timedelta(minutes=n % 3),
            sla_due_at=None if n % 7 == 0 else now + timedelta(hours=n % 4),
            item_count=n % 3,
        )
    seen, cursor = [], None
    while True:
        page = keyset_page(Case.objects.all(), sort=sort, cursor=cursor, size=5)
        seen.extend(case.pk for case in page.rows)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(Case.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen))


def test_api_list_pages_with_a_cursor_and_sorts(api_for_role):
    cases = [CaseFactory() for _ in range(3)]
    api = api_for_role("auditor")

    first = api.get(URL, {"page_size": 2, "sort": "-last_seen_at"}).json()
    second = api.get(first["next"]).json()

    got = [row["id"] for row in first["results"] + second["results"]]
    assert sorted(got) == sorted(c.pk for c in cases)
    assert second["next"] is None


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ({"kind": "mapping_missing"}, "grouped"),
        ({"grouped": "true"}, "grouped"),
        ({"escalated": "true"}, "escalated"),
        ({"sla": "breached"}, "escalated"),
        ({"sla": "due_soon"}, "soon"),
        ({"age": "gt_7d"}, "old"),
        ({"unassigned": "false"}, "owned"),
        ({"waiting": "true"}, "waiting"),
    ],
)
def test_queue_filters(api_for_role, query, wanted):
    now = timezone.now()
    cases = {
        "grouped": CaseFactory(kind="mapping_missing", cause_key="c:1", item_count=2),
        "escalated": CaseFactory(sla_due_at=now - timedelta(hours=1), escalated_at=now),
        "soon": CaseFactory(sla_due_at=now + timedelta(hours=1)),
        "old": CaseFactory(
            first_seen_at=now - timedelta(days=9), sla_due_at=now + timedelta(days=1)
        ),
        "owned": CaseFactory(owner=UserFactory()),
        "waiting": CaseFactory(detail={"waiting_for": {"kind": "invoice", "id": "inv_1"}}),
    }
    response = api_for_role("auditor").get(URL, query)
    assert response.status_code == 200, response.json()
    assert {row["id"] for row in response.json()["results"]} == {cases[wanted].pk}


def test_kind_filter_refuses_a_kind_outside_the_vocabulary(api_for_role):
    response = api_for_role("auditor").get(URL, {"kind": "not_a_kind"})
    assert response.status_code == 400


def test_counts_per_kind_and_sla_state():
    now = timezone.now()
    CaseFactory(kind="mapping_missing", sla_due_at=now - timedelta(hours=1))
    CaseFactory(kind="mapping_missing", sla_due_at=now + timedelta(hours=1))
    CaseFactory(kind="unknown_customer", sla_due_at=now + timedelta(days=2), escalated_at=now)
    CaseFactory(kind="unknown_customer", resolved=True)

    counts = case_counts()

    assert counts["total"] == 3
    assert {row["kind"]: row["count"] for row in counts["by_kind"]} == {
        "mapping_missing": 2,
        "unknown_customer": 1,
    }
    assert counts["by_sla"] == {"breached": 1, "due_soon": 1, "on_time": 1, "escalated": 1}


def test_counts_api(api_for_role):
    CaseFactory(kind="mapping_missing")
    body = api_for_role("auditor").get(f"{URL}/counts", {"entity": ""}).json()
    assert body["total"] == 1
    assert body["by_kind"][0]["label"] == "No mapping rule"


def test_bulk_resolve_is_one_transaction_audited_with_the_reason(make_user):
    ops = make_user("ops", "finance_ops")
    open_cases = [CaseFactory() for _ in range(3)]
    dismissed = CaseFactory(dismissed=True)

    counts = cases_bulk_act(
        cases=[*open_cases, dismissed], action="resolve", actor=ops, reason="fixed upstream"
    )

    assert counts == {"done": 3, "unchanged": 0, "skipped": 1}
    for case in open_cases:
        case.refresh_from_db()
        assert case.state == CaseState.RESOLVED
        row = case.history.latest("history_date")
        assert row.history_user == ops
        assert row.history_change_reason == "bulk resolve: fixed upstream"


def test_bulk_without_reason_changes_nothing(api_for_role):
    case = CaseFactory()
    response = api_for_role("finance_ops").post(
        f"{URL}/bulk", {"ids": [case.pk], "action": "dismiss", "reason": ""}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "reason_required"
    case.refresh_from_db()
    assert case.state == CaseState.OPEN


def test_bulk_assign_over_the_api(api_for_role, make_user):
    owner = make_user("anna", "finance_ops")
    cases = [CaseFactory() for _ in range(2)]
    response = api_for_role("finance_ops").post(
        f"{URL}/bulk",
        {"ids": [c.pk for c in cases], "action": "assign", "owner": owner.pk, "reason": "hers"},
        format="json",
    )
    assert response.json() == {"done": 2, "unchanged": 0, "skipped": 0}
    assert set(Case.objects.values_list("owner__username", flat=True)) == {"anna"}


def test_overdue_cases_escalate_once_mailing_the_owner_group(
    make_user, mailoutbox, django_capture_on_commit_callbacks
):
    make_user("lead", "finance_ops", email="lead@example.com")
    group = Group.objects.get(name="finance_ops")
    late = CaseFactory(owner_group=group, sla_due_at=timezone.now() - timedelta(minutes=5))
    CaseFactory(owner_group=group, sla_due_at=timezone.now() + timedelta(hours=5))

    with django_capture_on_commit_callbacks(execute=True):
        assert cases_escalate_overdue() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert cases_escalate_overdue() == 0

    late.refresh_from_db()
    assert late.escalated_at is not None
    assert late.history.latest("history_date").history_change_reason.startswith(
        "escalated: past its SLA"
    )
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["lead@example.com"]
    assert f"#{late.pk}" in mailoutbox[0].body


def test_api_list_query_count_does_not_grow_with_rows(api_for_role, django_assert_max_num_queries):
    api = api_for_role("auditor")
    for _ in range(3):
        CaseFactory(owner=UserFactory())
    with django_assert_max_num_queries(20) as few:
        api.get(URL)
    for _ in range(40):
        CaseFactory(owner=UserFactory(), cause_key="", item_count=0)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = api.get(URL)
    assert len(response.json()["results"]) == 43


@pytest.fixture
def ops_client(client, make_user):
    client.force_login(make_user("ops", "finance_ops"))
    return client


def test_console_queue_query_count_does_not_grow_with_rows(
    ops_client, django_assert_max_num_queries
):
    for _ in range(3):
        CaseFactory(owner=UserFactory(), owner_group=None)
    with django_assert_max_num_queries(30) as few:
        ops_client.get(LIST)
    for _ in range(40):
        CaseFactory(owner=UserFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = ops_client.get(LIST)
    assert len(response.context["page"].rows) == 43


def test_console_queue_shows_counts_escalation_and_pages_on(ops_client):
    now = timezone.now()
    escalated = CaseFactory(kind="mapping_missing", escalated_at=now, title="No rule DE01")
    for _ in range(50):
        CaseFactory(last_seen_at=now + timedelta(minutes=1))

    html = ops_client.get(LIST).content.decode()
    assert 'data-testid="count-kind-mapping_missing">No mapping rule: 1<' in html
    assert 'data-testid="next-page"' in html
    following = ops_client.get(LIST + "?cursor=" + ops_client.get(LIST).context["page"].next_cursor)
    page_two = following.content.decode()
    assert f'data-case-id="{escalated.pk}"' in page_two
    assert 'data-testid="escalated"' in page_two


def test_console_bulk_acknowledge_selected_cases(ops_client):
    chosen = [CaseFactory() for _ in range(2)]
    other = CaseFactory()
    response = ops_client.post(
        reverse("exceptions:case-bulk"),
        {"ids": [c.pk for c in chosen], "action": "acknowledge", "reason": "mine", "next": LIST},
    )
    assert response.status_code == 302
    states = dict(Case.objects.values_list("pk", "state"))
    assert {states[c.pk] for c in chosen} == {CaseState.ACKNOWLEDGED}
    assert states[other.pk] == CaseState.OPEN


def test_saved_filters_are_per_user(ops_client, make_user):
    ops_client.post(
        reverse("exceptions:filter-save"), {"name": "Mappings", "query": "kind=mapping_missing"}
    )
    make_user("other", "finance_ops")
    saved = SavedCaseFilter.objects.get()
    assert (saved.user.username, saved.query) == ("ops", "kind=mapping_missing")
    html = ops_client.get(LIST).content.decode()
    assert 'href="?kind=mapping_missing">Mappings</a>' in html
    ops_client.post(reverse("exceptions:filter-delete", args=[saved.pk]))
    assert not SavedCaseFilter.objects.exists()


def test_console_grouped_case_lists_its_blocked_records_with_their_value(ops_client):
    from decimal import Decimal

    from exceptions.services import BlockedRecord, case_open_or_bump

    cause = UserFactory()
    for n, value in enumerate(["1250.00", "99.50"]):
        case = case_open_or_bump(
            subject=cause,
            kind="mapping_missing",
            severity="high",
            title="No invoice rule for DE01 / support",
            cause_key="1:DE01:invoice:support:",
            item=BlockedRecord(
                subject=UserFactory(),
                label=f"invoice inv_{n}",
                value_amount=Decimal(value),
                currency="EUR",
            ),
        )

    html = ops_client.get(reverse("exceptions:case-detail", args=[case.pk])).content.decode()

    assert "Blocked records: 2" in html
    assert "2 worth 1,349.50 EUR" in html
    assert "invoice inv_0" in html and "invoice inv_1" in html


def test_assign_a_case_over_the_api_is_audited(api_for_role, make_user):
    owner = make_user("anna", "finance_ops")
    case = CaseFactory()

    response = api_for_role("finance_ops").post(
        f"{URL}/{case.pk}/assign", {"owner": owner.pk, "reason": "she knows DE01"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["owner"] == "anna"
    row = case.history.latest("history_date")
    assert row.history_change_reason == "assigned to anna: she knows DE01"
