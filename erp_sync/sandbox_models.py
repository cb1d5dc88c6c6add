"""The sandbox ERP's ledger: documents with their double entries, a chart of accounts and
closed months, inside Concord's own database (the demo's and the drills' ERP).

Kept beside models.py (which imports it, so the models are erp_sync's) to keep that module
short.
"""

from django.db import models
from django.utils import timezone

from config.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from erp_sync.choices import DocumentType
from erp_sync.models import Connection


class SandboxDocument(models.Model):
    """A document in the sandbox ERP: a double-entry ledger inside Concord's own database."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=DocumentType.choices)
    number = models.CharField(max_length=50)
    entity = models.CharField(max_length=16)
    currency = models.CharField(max_length=3)
    total_amount = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES
    )
    tax_amount = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES
    )
    document_date = models.DateField()
    party_code = models.CharField(max_length=200, blank=True, default="")
    parent_external_id = models.CharField(max_length=200, blank=True, default="")
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="erp_sandbox_doc_external_uniq"
            )
        ]


class SandboxEntry(models.Model):
    document = models.ForeignKey(SandboxDocument, on_delete=models.CASCADE, related_name="entries")
    account = models.CharField(max_length=64)
    debit_amount = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, default=0
    )
    credit_amount = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, default=0
    )
    memo = models.CharField(max_length=300, blank=True, default="")


class SandboxAccount(models.Model):
    """The sandbox ERP's chart of accounts (mapping rules are checked against it)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "code"], name="erp_sandbox_account_uniq")
        ]


class SandboxPeriod(models.Model):
    """A closed accounting month in the sandbox ERP (posting into it is refused)."""

    connection = models.ForeignKey(Connection, on_delete=models.CASCADE, related_name="+")
    month = models.DateField(help_text="First day of the closed month.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "month"], name="erp_sandbox_period_uniq")
        ]
