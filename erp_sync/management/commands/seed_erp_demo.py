"""The ERP side of the demo: one sandbox ERP per legal entity, its chart and mapping rules.

Run before `seed_demo` (make demo-setup does), so that the demo's events are dispatched
and posted as they are ingested. Two gaps are left on purpose, so the exception queue has
something real to triage:
- DE01 has no invoice rule for the "support" product family: those invoices' jobs go dead
  with a `mapping_missing` case; adding the rule and replaying the blocked jobs fixes them.
- UK01's sandbox has last month closed and the connection's policy is to hold: those jobs
  wait, `held` and listed on the one `closed_period` case of that period, for a person.
Idempotent: what exists is left as it is.
"""

from datetime import date, timedelta

from django.core.management.base import BaseCommand
from django.db import transaction

from billing.models import LegalEntity
from erp_sync.actors import system_actor
from erp_sync.choices import AdapterKind, ClosedPeriodPolicy, DocumentType
from erp_sync.models import Connection, MappingRule, SandboxAccount, SandboxPeriod
from erp_sync.services.connections import connection_create
from erp_sync.services.rules import mapping_rule_create

ENTITIES = (
    ("US01", "Concord Demo Inc.", "USD", "US", ClosedPeriodPolicy.POST_NEXT_OPEN),
    ("DE01", "Concord Demo GmbH", "EUR", "DE", ClosedPeriodPolicy.POST_NEXT_OPEN),
    ("UK01", "Concord Demo Ltd", "GBP", "GB", ClosedPeriodPolicy.HOLD),
)
CHART = {
    "1100": "Bank",
    "1200": "Accounts receivable",
    "2200": "Sales tax / VAT payable",
    "2400": "Partner commissions payable",
    "4000": "Subscription revenue",
    "4100": "Usage revenue",
    "4200": "Support revenue",
    "6100": "Bad debt expense",
    "6200": "Partner commission expense",
}
# (document type, product family, revenue-side account, receivable/payable account)
RULES = (
    (DocumentType.INVOICE, "", "4000", "1200"),
    (DocumentType.INVOICE, "usage", "4100", "1200"),
    (DocumentType.INVOICE, "support", "4200", "1200"),
    (DocumentType.CREDIT_NOTE, "", "4000", "1200"),
    (DocumentType.PAYMENT, "", "1100", "1200"),
    (DocumentType.REFUND, "", "1100", "1200"),
    (DocumentType.WRITE_OFF, "", "6100", "1200"),
    (DocumentType.SETTLEMENT, "", "6200", "2400"),
)
# The rule left out on purpose (see the module docstring).
MISSING = {("DE01", DocumentType.INVOICE, "support")}
# DE01 has only specific invoice rules, so the support family finds no rule at all.
SPECIFIC_ONLY = {("DE01", DocumentType.INVOICE)}


class Command(BaseCommand):
    help = "Create the demo's sandbox ERP connections, charts and mapping rules (idempotent)."

    def handle(self, *args, **options):
        actor = system_actor()
        made = {"connections": 0, "rules": 0}
        for code, name, currency, country, policy in ENTITIES:
            with transaction.atomic():
                entity, _ = LegalEntity.objects.get_or_create(
                    code=code, defaults={"name": name, "currency": currency, "country": country}
                )
                connection = Connection.objects.filter(entity=entity, is_active=True).first()
                if connection is None:
                    connection = connection_create(
                        data={
                            "name": f"sandbox-{code.lower()}",
                            "entity": entity,
                            "adapter_kind": AdapterKind.SANDBOX,
                            "settings": {"latency_ms": 0},
                            "max_concurrency": 4,
                            "closed_period_policy": policy,
                        },
                        actor=actor,
                    )
                    made["connections"] += 1
                for account, label in CHART.items():
                    SandboxAccount.objects.get_or_create(
                        connection=connection, code=account, defaults={"name": label}
                    )
                if policy == ClosedPeriodPolicy.HOLD:
                    last_month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
                    SandboxPeriod.objects.get_or_create(connection=connection, month=last_month)
            made["rules"] += self.rules(code, actor)
        self.stdout.write(
            f"seed_erp_demo: {made['connections']} sandbox connections, {made['rules']} rules added"
        )

    def rules(self, entity: str, actor) -> int:
        added = 0
        for document_type, family, account, receivable in RULES:
            if (entity, document_type, family) in MISSING:
                continue
            if not family and (entity, document_type) in SPECIFIC_ONLY:
                families = ("platform", "analytics", "usage")
            else:
                families = (family,)
            for each in families:
                rule_name = f"{entity} {document_type}{' ' + each if each else ''}"
                if MappingRule.objects.filter(name=rule_name, is_active=True).exists():
                    continue
                taxed = document_type in (DocumentType.INVOICE, DocumentType.CREDIT_NOTE)
                mapping_rule_create(
                    data={
                        "name": rule_name,
                        "entity": entity,
                        "document_type": document_type,
                        "product_family": each,
                        "revenue_account": account,
                        "receivable_account": receivable,
                        "tax_account": "2200" if taxed else "",
                        "valid_from": date(2020, 1, 1),
                    },
                    actor=actor,
                )
                added += 1
        return added
