import datetime as dt

import pytest

from billing.models import FinanceEvent
from erp_sync.errors import RuleInactiveError, RuleTieError
from erp_sync.mapping import resolve_rule
from erp_sync.models import MappingRule, SyncJob
from erp_sync.services.rules import mapping_rule_revise
from tests.erp_sync.factories import (
    REVENUE_SERVICES,
    ConnectionFactory,
    FinanceEventFactory,
    LegalEntityFactory,
    MappingRuleFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def connection():
    return ConnectionFactory(entity=LegalEntityFactory(code="US01"))


def test_revise_makes_new_version_and_keeps_old_linked_to_jobs(connection, role_users):
    old = MappingRuleFactory(name="US SaaS", product_family="saas")
    event = FinanceEventFactory()
    job = SyncJob.objects.create(
        event=event, connection=connection, document_type="invoice", external_id="x"
    )
    job.mapping_rules.add(old)

    result = mapping_rule_revise(
        rule=old, data={"revenue_account": REVENUE_SERVICES}, actor=role_users["integration_admin"]
    )

    new = result.rule
    old.refresh_from_db()
    assert new.pk != old.pk
    assert (new.version, new.supersedes_id, new.is_active) == (2, old.pk, True)
    assert new.revenue_account == REVENUE_SERVICES and new.product_family == "saas"
    assert old.is_active is False and old.revenue_account != REVENUE_SERVICES
    assert list(job.mapping_rules.all()) == [old]
    assert (
        resolve_rule(
            entity="US01",
            document_type="invoice",
            product_family="saas",
            on_date=dt.date(2026, 5, 1),
        )
        == new
    )
    assert old.history.latest().history_change_reason == "superseded by version 2"
    assert FinanceEvent.objects.count() == 1


def test_revise_superseded_rule_refused_naming_successor(connection):
    old = MappingRuleFactory(name="US SaaS", product_family="saas")
    new = mapping_rule_revise(rule=old, data={"cost_center": "CC1"}, actor=None).rule

    with pytest.raises(RuleInactiveError) as refused:
        mapping_rule_revise(rule=old, data={"cost_center": "CC2"}, actor=None)

    assert f"(id {new.pk})" in refused.value.message
    assert MappingRule.objects.count() == 2


def test_revise_into_a_tie_refused_and_old_stays_active(connection):
    MappingRuleFactory(name="services", product_family="services")
    old = MappingRuleFactory(name="saas", product_family="saas")

    with pytest.raises(RuleTieError):
        mapping_rule_revise(rule=old, data={"product_family": "services"}, actor=None)

    old.refresh_from_db()
    assert old.is_active and MappingRule.objects.count() == 2
