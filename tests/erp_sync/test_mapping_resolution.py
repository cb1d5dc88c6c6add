import datetime as dt

import pytest

from erp_sync.mapping import resolve_rule
from tests.erp_sync.factories import MappingRuleFactory

pytestmark = pytest.mark.django_db
DAY = dt.date(2026, 5, 14)


def resolve(**context):
    context.setdefault("entity", "US01")
    context.setdefault("document_type", "invoice")
    return resolve_rule(on_date=DAY, **context)


def test_resolve_several_matching_rules_most_specific_wins():
    MappingRuleFactory(name="any invoice", entity="", revenue_account="4999")
    MappingRuleFactory(name="US01 invoices", revenue_account="4000")
    specific = MappingRuleFactory(
        name="US01 saas US", product_family="saas", country="US", revenue_account="4010"
    )
    MappingRuleFactory(name="US01 services", product_family="services", revenue_account="4100")

    assert resolve(product_family="saas", country="US", currency="USD") == specific
    assert resolve(product_family="saas", country="CA").name == "US01 invoices"
    assert resolve(entity="DE01", product_family="saas").name == "any invoice"


def test_resolve_rule_outside_dates_or_inactive_is_ignored():
    MappingRuleFactory(name="expired", valid_to=dt.date(2026, 1, 31))
    MappingRuleFactory(name="future", valid_from=dt.date(2026, 6, 1))
    MappingRuleFactory(name="inactive", is_active=False)

    assert resolve() is None


def test_resolve_blank_context_value_matches_only_blank_rule_fields():
    MappingRuleFactory(name="saas only", product_family="saas")

    assert resolve(product_family="") is None
    assert resolve(product_family="saas").name == "saas only"


def test_resolve_valid_to_is_inclusive():
    rule = MappingRuleFactory(name="ends today", valid_to=DAY)

    assert resolve() == rule
