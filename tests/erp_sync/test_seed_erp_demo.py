"""`manage.py seed_erp_demo`: the demo's sandbox ERPs, charts and rules, idempotently."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from erp_sync.mapping import resolve_rule
from erp_sync.models import Connection, MappingRule, SandboxAccount, SandboxPeriod

pytestmark = pytest.mark.django_db


def test_seed_erp_demo_twice_creates_one_sandbox_per_entity_and_nothing_twice():
    call_command("seed_erp_demo", stdout=StringIO())
    first = (
        Connection.objects.count(),
        MappingRule.objects.count(),
        SandboxAccount.objects.count(),
    )
    call_command("seed_erp_demo", stdout=StringIO())

    assert first == (
        Connection.objects.count(),
        MappingRule.objects.count(),
        SandboxAccount.objects.count(),
    )
    assert sorted(Connection.objects.values_list("entity__code", "adapter_kind")) == [
        ("DE01", "sandbox"),
        ("UK01", "sandbox"),
        ("US01", "sandbox"),
    ]


def test_seed_erp_demo_leaves_de01_support_unmapped_and_uk01_last_month_closed():
    call_command("seed_erp_demo", stdout=StringIO())
    today = dt.date.today()

    def rule(entity, family):
        return resolve_rule(
            entity=entity, document_type="invoice", product_family=family, on_date=today
        )

    assert rule("DE01", "support") is None
    assert rule("DE01", "platform").revenue_account == "4000"
    assert rule("US01", "support").revenue_account == "4200"
    uk = Connection.objects.get(entity__code="UK01")
    assert uk.closed_period_policy == "hold"
    assert SandboxPeriod.objects.filter(connection=uk).exists()
