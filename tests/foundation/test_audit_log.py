"""The global audit log (every history table and the security events) and a mapping rule's
versions: readable by the auditor, filterable, keyset-paged, read-only, bounded queries."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from config.accounts.audit import security_event_record
from config.accounts.audit_log import SECURITY, audit_log_page, audited_models
from config.accounts.services import api_client_create
from erp_sync.services.rules import mapping_rule_create, mapping_rule_revise

pytestmark = pytest.mark.django_db
AUDIT = reverse("accounts:audit-log")
RULE = {
    "name": "US support",
    "entity": "US01",
    "document_type": "invoice",
    "product_family": "support",
    "revenue_account": "4000",
    "receivable_account": "1200",
    "valid_from": dt.date(2026, 1, 1),
}


@pytest.fixture
def versions(role_users):
    """v1 made by an API client, v2 by a person (new revenue account)."""
    client, _token = api_client_create(name="erp-loader", scopes=["mapping:write"])
    first = mapping_rule_create(data=RULE, actor=client.user).rule
    second = mapping_rule_revise(
        rule=first, data={"revenue_account": "4100"}, actor=role_users["integration_admin"]
    ).rule
    security_event_record(kind="signin_failed", username="mallory")
    return first, second


def test_rule_versions_show_diffs_actors_and_reasons(client, role_users, versions):
    _first, second = versions
    client.force_login(role_users["auditor"])

    page = client.get(reverse("erp_sync:rule-detail", args=[second.pk])).content.decode()

    assert 'data-version="2"' in page and 'data-version="1"' in page
    assert "Revenue account:</span> <del>4000</del> → <ins>4100</ins>" in page
    assert "API client erp-loader" in page
    assert "integration_admin-user" in page
    assert "revision of" in page
    assert page.count('method="post"') == 1  # signing out is the only form


def test_rule_list_links_every_version_to_its_page(client, role_users, versions):
    first, second = versions
    client.force_login(role_users["auditor"])

    page = client.get(reverse("erp_sync:rule-list")).content.decode()

    assert reverse("erp_sync:rule-detail", args=[first.pk]) in page
    assert reverse("erp_sync:rule-detail", args=[second.pk]) in page
    edit = reverse("erp_sync:rule-edit", args=[second.pk])
    assert f'href="{edit}"' not in page  # no action for the auditor


def test_audit_log_lists_history_and_security_events(client, role_users, versions):
    client.force_login(role_users["auditor"])

    page = client.get(AUDIT).content.decode()

    assert 'data-source="erp_sync.mappingrule"' in page
    assert f'data-source="{SECURITY}"' in page
    assert "API client erp-loader" in page
    assert "superseded by version 2" in page


def test_audit_log_filters_by_actor_model_record_and_date(versions, role_users):
    first, second = versions
    admin = role_users["integration_admin"]

    by_actor, _ = audit_log_page(filters={"actor": [admin.pk]})
    by_model, _ = audit_log_page(filters={"model": "erp_sync.mappingrule"})
    by_record, _ = audit_log_page(filters={"model": "erp_sync.mappingrule", "record": first.pk})
    security, _ = audit_log_page(filters={"model": SECURITY})
    tomorrow = timezone.now() + dt.timedelta(days=1)
    future, _ = audit_log_page(filters={"since": tomorrow})
    nobody, _ = audit_log_page(filters={"actor": []})

    assert {r.actor for r in by_actor} == {"integration_admin-user"}
    assert {(r.record, r.action) for r in by_model} == {
        (str(first.pk), "Created"),
        (str(first.pk), "Changed"),
        (str(second.pk), "Created"),
    }
    assert {r.record for r in by_record} == {str(first.pk)}
    assert {r.source for r in security} == {SECURITY}
    assert [r.actor for r in security if r.action == "Sign-in failed"] == ["mallory"]
    assert future == [] and nobody == []


def test_audit_log_filter_form_on_the_page(client, role_users, versions):
    client.force_login(role_users["auditor"])

    page = client.get(AUDIT, {"actor": "integration_admin-user", "model": "erp_sync.mappingrule"})

    rows = page.context["rows"]
    assert rows and {r.actor for r in rows} == {"integration_admin-user"}


def test_keyset_pages_cover_every_row_once_in_order(versions):
    everything, last = audit_log_page(filters={}, page_size=500)
    assert last == ""
    seen, cursor = [], ""
    while True:
        rows, cursor = audit_log_page(filters={}, cursor=cursor, page_size=2)
        seen += rows
        if not cursor:
            break

    key = [(r.source, r.row_id) for r in seen]
    assert key == [(r.source, r.row_id) for r in everything]
    assert len(set(key)) == len(key) >= 4


def test_audit_log_query_count_does_not_grow_with_rows(
    client, role_users, versions, django_assert_max_num_queries
):
    # More rows than a page (50) of its own: the page is full whatever else the database holds.
    for index in range(60):
        security_event_record(kind="signin_failed", username=f"guess-{index}")
    client.force_login(role_users["auditor"])
    budget = len(audited_models()) + 1 + 8  # one per source, plus session/user/permissions

    with django_assert_max_num_queries(budget):
        response = client.get(AUDIT)
    with django_assert_max_num_queries(budget):
        older = client.get(AUDIT, {"after": response.context["next_cursor"]})

    assert len(response.context["rows"]) == 50
    assert older.status_code == 200


def test_only_the_auditor_reads_it_and_nobody_posts(client, role_users):
    client.force_login(role_users["finance_ops"])
    assert client.get(AUDIT).status_code == 403
    client.force_login(role_users["auditor"])
    assert client.get(AUDIT).status_code == 200
    assert client.post(AUDIT).status_code == 405


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("erp_sync:rule-deactivate", [1]),
        ("erp_sync:job-replay", [1]),
        ("erp_sync:job-cancel", [1]),
        ("billing:event-replay", [1]),
        ("billing:event-discard", [1]),
        ("exceptions:case-resolve", [1]),
        ("exceptions:case-comment", [1]),
        ("reconciliation:run-start", []),
    ],
)
def test_forced_posts_by_the_auditor_answer_403(client, role_users, name, args):
    client.force_login(role_users["auditor"])
    assert client.post(reverse(name, args=args), {"reason": "x"}).status_code == 403
