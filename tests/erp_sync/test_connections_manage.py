"""ERP connections are created and changed in the product (console and API, `sync:write`),
tested with the adapter's health(), and a Tryton connection never posts with two workers.

Tryton numbers its documents under one lock (a second concurrent poster is answered 503), so
its max concurrency is 1: the default for it, refused above in the form and the API, and a
check constraint in the database.
"""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from erp_sync.models import Connection
from tests.erp_sync.factories import ConnectionFactory, LegalEntityFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/connections"
TRYTON_SETTINGS = {"url": "http://127.0.0.1:1", "database": "acme", "login": "concord"}


@pytest.fixture
def entity():
    return LegalEntityFactory(code="US01")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _only_error(response) -> dict:
    [problem] = response.json()["errors"]
    return problem


# --- API ----------------------------------------------------------------------------------


def test_api_create_and_change_connection_with_sync_write(api_with_scopes, entity):
    api = api_with_scopes("sync:write", "read")

    created = api.post(
        URL,
        {
            "name": "sandbox-us",
            "entity": "US01",
            "adapter_kind": "sandbox",
            "settings": {"latency_ms": 0},
            "secret_env": "CONCORD_ERP_US_TOKEN",
            "max_concurrency": 3,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    changed = api.patch(f"{URL}/{pk}", {"max_concurrency": 6}, format="json")

    assert changed.status_code == 200, changed.content
    connection = Connection.objects.get(pk=pk)
    assert (connection.entity.code, connection.max_concurrency) == ("US01", 6)
    assert connection.secret_env == "CONCORD_ERP_US_TOKEN"
    reasons = list(connection.history.order_by("history_id").values_list("history_change_reason"))
    assert reasons == [("connection created",), ("connection updated: max_concurrency",)]


def test_api_create_without_sync_write_is_403(api_with_scopes, entity):
    response = api_with_scopes("read").post(
        URL, {"name": "x", "entity": "US01", "adapter_kind": "sandbox"}, format="json"
    )

    assert response.status_code == 403
    assert not Connection.objects.exists()


def test_api_tryton_connection_defaults_to_one_poster(api_with_scopes, entity):
    response = api_with_scopes("sync:write", "read").post(
        URL,
        {
            "name": "tryton-us",
            "entity": "US01",
            "adapter_kind": "tryton",
            "settings": TRYTON_SETTINGS,
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["max_concurrency"] == 1


def test_api_tryton_connection_above_one_poster_is_400(api_with_scopes, entity):
    api = api_with_scopes("sync:write", "read")

    created = api.post(
        URL,
        {
            "name": "tryton-us",
            "entity": "US01",
            "adapter_kind": "tryton",
            "settings": TRYTON_SETTINGS,
            "max_concurrency": 2,
        },
        format="json",
    )
    tryton = ConnectionFactory(entity=entity, adapter_kind="tryton", settings=TRYTON_SETTINGS)
    raised = api.patch(f"{URL}/{tryton.pk}", {"max_concurrency": 4}, format="json")
    sandbox = ConnectionFactory(entity=LegalEntityFactory(code="DE01"), max_concurrency=4)
    switched = api.patch(f"{URL}/{sandbox.pk}", {"adapter_kind": "tryton"}, format="json")

    for response in (created, raised, switched):
        assert response.status_code == 400, response.content
        problem = _only_error(response)
        assert problem["field"] == "max_concurrency"
        assert "one document at a time" in problem["message"]
    assert Connection.objects.filter(name="tryton-us").count() == 0
    tryton.refresh_from_db()
    sandbox.refresh_from_db()
    assert (tryton.max_concurrency, sandbox.adapter_kind) == (1, "sandbox")


def test_api_second_active_connection_of_a_kind_or_taken_name_is_400(api_with_scopes, entity):
    ConnectionFactory(name="sandbox-us", entity=entity)
    api = api_with_scopes("sync:write", "read")

    same_kind = api.post(
        URL, {"name": "other", "entity": "US01", "adapter_kind": "sandbox"}, format="json"
    )
    same_name = api.post(
        URL,
        {"name": "sandbox-us", "entity": "US01", "adapter_kind": "sandbox", "is_active": False},
        format="json",
    )

    assert (same_kind.status_code, _only_error(same_kind)["field"]) == (400, "adapter_kind")
    assert (same_name.status_code, _only_error(same_name)["field"]) == (400, "name")


def test_database_refuses_tryton_connection_with_two_posters(entity):
    tryton = ConnectionFactory(entity=entity, adapter_kind="tryton", settings=TRYTON_SETTINGS)

    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.filter(pk=tryton.pk).update(max_concurrency=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Connection.objects.create(
            name="tryton-de",
            entity=LegalEntityFactory(code="DE01"),
            adapter_kind="tryton",
            max_concurrency=3,
        )


# --- console ------------------------------------------------------------------------------


def test_console_create_connection_then_edit_it(role_users, entity):
    admin = client_for(role_users["integration_admin"])
    form = {
        "name": "sandbox-us",
        "entity": "US01",
        "adapter_kind": "sandbox",
        "settings": '{"latency_ms": 0}',
        "secret_env": "",
        "is_active": "on",
        "max_concurrency": "2",
        "failure_threshold": "5",
        "open_cooldown_seconds": "60",
        "closed_period_policy": "hold",
    }

    created = admin.post(reverse("erp_sync:connection-create"), form, follow=True)
    connection = Connection.objects.get(name="sandbox-us")
    edit_url = reverse("erp_sync:connection-edit", args=[connection.pk])
    edit_page = admin.get(edit_url)
    edited = admin.post(
        edit_url, {**form, "name": "sandbox-us-main", "max_concurrency": "5"}, follow=True
    )

    assert "Connection sandbox-us saved." in created.content.decode()
    assert 'value="sandbox-us"' in edit_page.content.decode()
    assert "Connection sandbox-us-main saved." in edited.content.decode()
    connection.refresh_from_db()
    assert (connection.name, connection.max_concurrency, connection.settings) == (
        "sandbox-us-main",
        5,
        {"latency_ms": 0},
    )


def test_console_tryton_above_one_poster_shows_the_refusal_beside_the_field(role_users, entity):
    admin = client_for(role_users["integration_admin"])

    response = admin.post(
        reverse("erp_sync:connection-create"),
        {
            "name": "tryton-us",
            "entity": "US01",
            "adapter_kind": "tryton",
            "settings": '{"url": "http://127.0.0.1:1", "database": "acme", "login": "c"}',
            "max_concurrency": "4",
            "failure_threshold": "5",
            "open_cooldown_seconds": "60",
            "closed_period_policy": "hold",
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-testid="error-max_concurrency"' in page
    assert "posts one document at a time: its max concurrency must be 1" in page
    assert not Connection.objects.filter(name="tryton-us").exists()


def test_console_connection_form_refuses_people_without_the_permission(role_users, entity):
    connection = ConnectionFactory(entity=entity)

    for role in ("finance_ops", "auditor", "partner"):
        client = client_for(role_users[role])
        assert client.get(reverse("erp_sync:connection-create")).status_code == 403
        edit = reverse("erp_sync:connection-edit", args=[connection.pk])
        assert client.post(edit, {"name": "hijacked"}).status_code == 403
    connection.refresh_from_db()
    assert connection.name != "hijacked"


def test_console_test_connection_shows_the_adapters_answer(role_users, entity):
    connection = ConnectionFactory(entity=entity)
    detail = client_for(role_users["integration_admin"]).get(
        reverse("erp_sync:connection-detail", args=[connection.pk])
    )

    answer = client_for(role_users["integration_admin"]).get(
        reverse("erp_sync:connection-health", args=[connection.pk]), HTTP_HX_REQUEST="true"
    )

    assert "Test connection" in detail.content.decode()
    assert answer.status_code == 200
    text = answer.content.decode()
    assert '<span class="badge">ok</span>' in text and "unreachable" not in text
