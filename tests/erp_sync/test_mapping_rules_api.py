import pytest

from billing.models import Customer, FinanceEvent, Invoice
from erp_sync.models import MappingRule, SandboxDocument, SyncJob
from tests.erp_sync.factories import (
    REVENUE_SAAS,
    ConnectionFactory,
    LegalEntityFactory,
    MappingRuleFactory,
    default_rules,
    make_invoice,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/mapping-rules"
NEW_RULE = {
    "name": "US hardware",
    "entity": "US01",
    "document_type": "invoice",
    "product_family": "hardware",
    "revenue_account": REVENUE_SAAS,
    "receivable_account": "1100",
    "valid_from": "2026-01-01",
}


@pytest.fixture
def connection():
    return ConnectionFactory(entity=LegalEntityFactory(code="US01"))


def test_create_rule_as_integration_admin_returns_201(api_for_role, connection):
    response = api_for_role("integration_admin").post(URL, NEW_RULE, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["version"] == 1 and response.json()["warnings"] == []
    assert MappingRule.objects.filter(name="US hardware", specificity=3).exists()


@pytest.mark.parametrize("role", ["finance_ops", "auditor", "channel_manager"])
def test_create_rule_without_permission_returns_403(api_for_role, connection, role):
    response = api_for_role(role).post(URL, NEW_RULE, format="json")

    assert response.status_code == 403
    assert not MappingRule.objects.exists()


def test_create_rule_with_scope_but_api_client_read_only_returns_403(api_with_scopes, connection):
    assert api_with_scopes("read").post(URL, NEW_RULE, format="json").status_code == 403
    assert api_with_scopes("mapping:write").post(URL, NEW_RULE, format="json").status_code == 201


def test_create_tie_answers_409_naming_rule(api_for_role, connection):
    existing = MappingRuleFactory(name="hw", product_family="hardware")

    response = api_for_role("integration_admin").post(URL, NEW_RULE, format="json")

    assert response.status_code == 409
    error = response.json()["errors"][0]
    assert error["code"] == "rule_tie" and f"(id {existing.pk})" in error["message"]


def test_patch_rule_makes_new_version_and_delete_deactivates(api_for_role, connection):
    rule = MappingRuleFactory(name="hw", product_family="hardware")
    api = api_for_role("integration_admin")

    patched = api.patch(f"{URL}/{rule.pk}", {"cost_center": "CC9"}, format="json")
    new_id = patched.json()["id"]
    deleted = api.delete(f"{URL}/{new_id}")

    assert patched.status_code == 200 and new_id != rule.pk
    assert patched.json()["version"] == 2 and patched.json()["supersedes"] == rule.pk
    assert deleted.status_code == 200 and deleted.json()["is_active"] is False
    assert MappingRule.objects.count() == 2 and not MappingRule.objects.filter(is_active=True)


def test_list_rules_filtered_by_document_type(api_for_role, connection):
    MappingRuleFactory(name="inv")
    MappingRuleFactory(name="pay", document_type="payment", revenue_account="1000")

    response = api_for_role("auditor").get(URL, {"document_type": "payment"})

    assert response.status_code == 200
    body = response.json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [row["name"] for row in rows] == ["pay"]


def _counts():
    return [
        m.objects.count()
        for m in (FinanceEvent, Invoice, Customer, MappingRule, SyncJob, SandboxDocument)
    ]


def test_preview_event_body_maps_lines_and_stores_nothing(api_for_role, connection):
    rules = default_rules("US01")
    invoice = make_invoice(entity=connection.entity)
    body = {**invoice.event.body, "id": "evt_preview_only"}
    before = _counts()

    response = api_for_role("finance_ops").post(f"{URL}/preview", {"event": body}, format="json")

    assert response.status_code == 200, response.json()
    answer = response.json()
    assert answer["ok"] is True and answer["balanced"] is True
    assert answer["rules"][0]["rule"]["id"] == rules["invoice"].pk
    assert answer["document"]["total"] == "108.00"
    assert _counts() == before


def test_preview_stored_event_without_rule_reports_mapping_missing(api_for_role, connection):
    invoice = make_invoice(entity=connection.entity)
    before = _counts()

    response = api_for_role("auditor").post(
        f"{URL}/preview",
        {"source": invoice.event.source, "id": invoice.event.event_id},
        format="json",
    )

    answer = response.json()
    assert response.status_code == 200
    assert answer["ok"] is False and answer["error"]["code"] == "mapping_missing"
    assert answer["error"]["match"]["product_family"] == "saas"
    assert _counts() == before


def test_preview_malformed_event_answers_400_with_field(api_for_role, connection):
    body = {"specversion": "1.0", "type": "invoice.issued", "data": {}}

    response = api_for_role("auditor").post(f"{URL}/preview", {"event": body}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"].startswith("event.")


def test_preview_as_partner_returns_403(api_for_role, connection):
    response = api_for_role("partner").post(
        f"{URL}/preview", {"source": "x", "id": "y"}, format="json"
    )

    assert response.status_code == 403
