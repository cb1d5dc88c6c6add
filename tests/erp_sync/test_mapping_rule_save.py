import datetime as dt

import pytest

from erp_sync.errors import RuleDatesError, RuleTieError, UnknownAccountError
from erp_sync.models import MappingRule
from erp_sync.services.rules import mapping_rule_create, mapping_rule_deactivate
from tests.erp_sync.factories import (
    BANK,
    RECEIVABLE,
    REVENUE_SAAS,
    ConnectionFactory,
    LegalEntityFactory,
    MappingRuleFactory,
)

pytestmark = pytest.mark.django_db


def rule_data(**overrides):
    data = {
        "name": "US SaaS revenue",
        "entity": "US01",
        "document_type": "invoice",
        "product_family": "saas",
        "revenue_account": REVENUE_SAAS,
        "receivable_account": RECEIVABLE,
        "valid_from": dt.date(2026, 1, 1),
    }
    return {**data, **overrides}


@pytest.fixture
def connection():
    return ConnectionFactory(entity=LegalEntityFactory(code="US01"))


def test_create_valid_rule_saves_with_specificity_and_history(connection, role_users):
    admin = role_users["integration_admin"]

    result = mapping_rule_create(data=rule_data(), actor=admin)

    rule = result.rule
    assert rule.pk and rule.version == 1 and rule.is_active
    assert rule.specificity == 3
    assert result.warnings == []
    history = rule.history.latest()
    assert history.history_user == admin
    assert history.history_change_reason == "mapping rule created"


def test_create_tie_same_specificity_overlapping_refused_naming_rule(connection):
    existing = MappingRuleFactory(
        name="US SaaS revenue", product_family="saas", country="US", version=2
    )

    with pytest.raises(RuleTieError) as refused:
        # 4 match fields each; an event for saas, US, USD matches both equally.
        mapping_rule_create(data=rule_data(name="SaaS USD", currency="USD"), actor=None)

    assert refused.value.code == "rule_tie"
    assert f'ties with rule "US SaaS revenue v2" (id {existing.pk})' in refused.value.message
    assert MappingRule.objects.count() == 1


def test_create_disjoint_values_or_dates_is_not_a_tie(connection):
    MappingRuleFactory(name="saas 2025", product_family="saas", valid_to=dt.date(2025, 12, 31))
    MappingRuleFactory(name="services", product_family="services")

    result = mapping_rule_create(data=rule_data(), actor=None)

    assert result.rule.pk


def test_create_different_specificity_is_not_a_tie(connection):
    MappingRuleFactory(name="all US01 invoices")

    assert mapping_rule_create(data=rule_data(), actor=None).rule.pk


def test_create_inverted_dates_refused(connection):
    with pytest.raises(RuleDatesError) as refused:
        mapping_rule_create(
            data=rule_data(valid_from=dt.date(2026, 3, 1), valid_to=dt.date(2026, 2, 1)),
            actor=None,
        )

    assert refused.value.code == "rule_dates_inverted"
    assert "valid_to 2026-02-01 is before valid_from 2026-03-01" in refused.value.message
    assert not MappingRule.objects.exists()


def test_create_account_not_in_sandbox_chart_refused(connection):
    with pytest.raises(UnknownAccountError) as refused:
        mapping_rule_create(data=rule_data(revenue_account="4999"), actor=None)

    assert refused.value.code == "unknown_account"
    assert "4999" in refused.value.message and connection.name in refused.value.message
    assert not MappingRule.objects.exists()


def test_create_account_rejected_by_erp_settings_refused(connection):
    connection.settings = {"reject_accounts": [BANK]}
    connection.save()

    with pytest.raises(UnknownAccountError):
        mapping_rule_create(data=rule_data(revenue_account=BANK), actor=None)


def test_create_blank_entity_checks_every_active_connection():
    ConnectionFactory(entity=LegalEntityFactory(code="US01"))
    other = ConnectionFactory(entity=LegalEntityFactory(code="DE01"), chart=[REVENUE_SAAS])

    with pytest.raises(UnknownAccountError) as refused:
        mapping_rule_create(data=rule_data(entity=""), actor=None)

    assert other.name in refused.value.message and RECEIVABLE in refused.value.message


def test_create_erp_unreachable_saves_with_warning(connection):
    connection.settings = {
        "outage": [{"start": "2000-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"}]
    }
    connection.save()

    result = mapping_rule_create(data=rule_data(revenue_account="NOT-CHECKED"), actor=None)

    assert result.rule.pk
    assert len(result.warnings) == 1
    assert connection.name in result.warnings[0] and "connection refused" in result.warnings[0]


def test_deactivate_rule_stops_matching_and_is_idempotent(connection, role_users):
    rule = MappingRuleFactory()

    mapping_rule_deactivate(rule=rule, actor=role_users["integration_admin"], reason="retired")
    again = mapping_rule_deactivate(rule=rule, actor=None)

    rule.refresh_from_db()
    assert rule.is_active is False and again.is_active is False
    assert rule.history.latest().history_change_reason == "retired"
    assert rule.history.count() == 2
