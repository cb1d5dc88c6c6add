import pytest
from django.test import Client
from django.urls import reverse

from erp_sync.models import Connection
from tests.erp_sync.factories import ConnectionFactory, LegalEntityFactory, MappingRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection():
    return ConnectionFactory(entity=LegalEntityFactory(code="US01"), secret_env="CONCORD_ERP_PW")


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "name,args",
    [
        ("erp_sync:rule-list", []),
        ("erp_sync:rule-create", []),
        ("erp_sync:rule-preview", []),
        ("erp_sync:connection-list", []),
        ("erp_sync:connection-detail", ["connection"]),
    ],
)
def test_console_pages_render_for_admin_and_refuse_partner(role_users, connection, name, args):
    url = reverse(name, args=[connection.pk for _ in args])

    admin = client_for(role_users["integration_admin"]).get(url)
    partner = client_for(role_users["partner"]).get(url)

    assert admin.status_code == 200
    assert partner.status_code == 403


def test_rule_edit_page_renders_versions(role_users, connection):
    rule = MappingRuleFactory()

    response = client_for(role_users["integration_admin"]).get(
        reverse("erp_sync:rule-edit", args=[rule.pk])
    )

    assert response.status_code == 200
    assert f"v{rule.version} (id {rule.pk})" in response.content.decode()


def test_rule_create_conflict_shows_message_naming_rule(role_users, connection):
    existing = MappingRuleFactory(name="US SaaS revenue", product_family="saas")

    response = client_for(role_users["integration_admin"]).post(
        reverse("erp_sync:rule-create"),
        {
            "name": "dup",
            "entity": "US01",
            "document_type": "invoice",
            "product_family": "saas",
            "revenue_account": "4000",
            "valid_from": "2026-01-01",
        },
    )

    assert response.status_code == 200
    assert f"(id {existing.pk})" in response.content.decode()


def test_health_partial_with_erp_down_renders_unreachable(role_users, connection):
    Connection.objects.filter(pk=connection.pk).update(
        settings={"outage": [{"start": "2000-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"}]}
    )

    response = client_for(role_users["auditor"]).get(
        reverse("erp_sync:connection-health", args=[connection.pk]), HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 200
    assert b"unreachable" in response.content and b"<html" not in response.content


def test_pause_from_console_needs_change_permission(role_users, connection):
    url = reverse("erp_sync:connection-pause", args=[connection.pk])

    refused = client_for(role_users["finance_ops"]).post(url, {"reason": "x"})
    done = client_for(role_users["integration_admin"]).post(url, {"reason": "close"})

    connection.refresh_from_db()
    assert refused.status_code == 403 and done.status_code == 302
    assert connection.paused and connection.paused_reason == "close"


def test_preview_htmx_partial_shows_mapping_missing(role_users, connection):
    from tests.erp_sync.factories import make_invoice

    invoice = make_invoice(entity=connection.entity)

    response = client_for(role_users["auditor"]).post(
        reverse("erp_sync:rule-preview"),
        {"source": invoice.event.source, "event_id": invoice.event.event_id},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert b"mapping_missing" in response.content and b"<html" not in response.content
