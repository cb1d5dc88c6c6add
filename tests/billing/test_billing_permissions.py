"""Who reaches what: roles (people) and scopes (API clients); revocation and throttling."""

import json

import pytest
from django.urls import reverse

from billing.services import event_ingest
from config.accounts.models import ApiClient
from config.accounts.services import api_client_revoke
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db

READS = [
    "/api/v1/events",
    "/api/v1/customers",
    "/api/v1/subscriptions",
    "/api/v1/invoices",
    "/api/v1/payments",
    "/api/v1/credit-notes",
]


def post_event(api, body):
    return api.post("/api/v1/events", data=json.dumps(body), content_type="application/json")


@pytest.mark.parametrize("url", READS)
@pytest.mark.parametrize(
    ("role", "status"),
    [("finance_ops", 200), ("channel_manager", 200), ("integration_admin", 200),
     ("auditor", 200), ("partner", 403)],
)  # fmt: skip
def test_read_endpoints_by_role(api_for_role, world, url, role, status):
    assert api_for_role(role).get(url).status_code == status


@pytest.mark.parametrize("role", ["finance_ops", "channel_manager", "auditor", "partner"])
def test_people_without_add_permission_cannot_ingest(api_for_role, world, role):
    assert post_event(api_for_role(role), event_body("invoice.issued")).status_code == 403


@pytest.mark.parametrize("url", ["/api/v1/events", "/api/v1/events/batch", "/api/v1/events/replay"])
def test_auditor_cannot_post_anything(api_for_role, world, url):
    assert api_for_role("auditor").post(url, {}, format="json").status_code == 403


def test_finance_ops_can_replay_but_auditor_cannot(api_for_role, world, actor):
    event = event_ingest(body=event_body("invoice.issued", customer_id="nobody"), actor=actor).event
    url = f"/api/v1/events/{event.source}/{event.event_id}/replay"
    assert api_for_role("auditor").post(url).status_code == 403
    assert api_for_role("finance_ops").post(url).status_code == 409  # reached: still failing


def test_read_scope_client_cannot_ingest(api_with_scopes, world):
    api = api_with_scopes("read")
    assert post_event(api, event_body("invoice.issued")).status_code == 403
    assert api.get("/api/v1/invoices").status_code == 200


@pytest.mark.parametrize("url", READS)
def test_write_only_client_cannot_read_lists(api_with_scopes, world, url):
    api = api_with_scopes("events:write")
    assert api.get(url).status_code == 403


def test_revoked_client_is_refused_at_once(api_with_scopes, world):
    api = api_with_scopes("events:write")
    assert post_event(api, event_body("invoice.issued")).status_code == 202
    api_client_revoke(client=ApiClient.objects.get())
    response = post_event(api, event_body("invoice.issued"))
    assert response.status_code == 401


def test_client_over_its_rate_gets_429_with_retry_after(api_with_scopes, world):
    from django.core.cache import cache

    cache.clear()
    api = api_with_scopes("read", rate="2/min")
    statuses = [api.get("/api/v1/invoices").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert int(api.get("/api/v1/invoices")["Retry-After"]) > 0


@pytest.mark.parametrize("name", ["billing:event-list", "billing:invoice-list"])
@pytest.mark.parametrize(("role", "status"), [("auditor", 200), ("partner", 403)])
def test_console_lists_by_role(client, role_users, world, name, role, status):
    client.force_login(role_users[role])
    assert client.get(reverse(name)).status_code == status


def test_console_replay_needs_permission(client, role_users, world, actor):
    event = event_ingest(body=event_body("invoice.issued", customer_id="nobody"), actor=actor).event
    url = reverse("billing:event-replay", args=[event.pk])
    attempts = event.apply_attempts
    client.force_login(role_users["auditor"])
    assert client.post(url).status_code == 403
    event.refresh_from_db()
    assert event.apply_attempts == attempts  # refused: the service did not run
    detail = client.get(reverse("billing:event-detail", args=[event.pk]))
    assert b'data-testid="replay"' not in detail.content
    client.force_login(role_users["finance_ops"])
    detail = client.get(reverse("billing:event-detail", args=[event.pk]))
    assert b'data-testid="replay"' in detail.content
    assert client.post(url).status_code == 302
    event.refresh_from_db()
    assert event.apply_attempts == attempts + 1  # the replay service ran (still quarantined)
    assert event.state == "quarantined"


def test_console_anonymous_is_sent_to_login(client, world):
    response = client.get(reverse("billing:event-list"))
    assert response.status_code == 302
