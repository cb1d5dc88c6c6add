"""Property: any valid invoice builds into a balanced document with the exact total."""

from decimal import Decimal

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import FinanceEvent
from erp_sync.builders import build_document
from erp_sync.models import MappingRule
from tests.erp_sync.factories import (
    REVENUE_SERVICES,
    ConnectionFactory,
    CustomerFactory,
    LegalEntityFactory,
    MappingRuleFactory,
    default_rules,
)

CENTS = st.integers(min_value=-500_000, max_value=10_000_000)
TAX_CENTS = st.integers(min_value=0, max_value=2_000_000)
LINES = st.lists(
    st.tuples(CENTS, TAX_CENTS, st.sampled_from(["saas", "services"]), st.sampled_from("ABC")),
    min_size=1,
    max_size=12,
)


def money(cents: int) -> str:
    return str(Decimal(cents).scaleb(-2))


def rules_and_customer():
    """Created once per test (hypothesis examples share the test's transaction)."""
    entity = LegalEntityFactory(code="US01")
    if not MappingRule.objects.exists():
        default_rules("US01")
        MappingRuleFactory(
            name="services", product_family="services", revenue_account=REVENUE_SERVICES
        )
        CustomerFactory(entity=entity, customer_id="cus_prop")
    return ConnectionFactory.build(entity=entity)


@pytest.mark.django_db
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(lines=LINES)
def test_build_random_invoice_always_balances(lines):
    connection = rules_and_customer()
    event_lines = [
        {
            "line_id": f"L{index}",
            "description": family,
            "product_family": family,
            "quantity": "1",
            "unit_price": money(amount),
            "amount": money(amount),
            "tax_code": f"T{code}",
            "tax_amount": money(tax),
        }
        for index, (amount, tax, family, code) in enumerate(lines)
    ]
    expected_total = sum(Decimal(i["amount"]) + Decimal(i["tax_amount"]) for i in event_lines)
    data = {
        "invoice_id": "inv_prop",
        "customer_id": "cus_prop",
        "issue_date": "2026-05-14",
        "currency": "USD",
        "lines": event_lines,
    }
    event = FinanceEvent(
        source="prop",
        event_id="e1",
        type="invoice.issued",
        entity="US01",
        event_time=timezone.now(),
        body={"data": data},
    )

    doc = build_document(event=event, connection=connection).document

    assert sum(p.debit for p in doc.postings) == sum(p.credit for p in doc.postings)
    assert doc.total == expected_total
    assert all(p.debit >= 0 and p.credit >= 0 for p in doc.postings)
    assert len(doc.lines) == len(lines)
