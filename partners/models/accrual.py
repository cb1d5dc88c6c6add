"""Accruals: what one source (line, payment, reversal or period) earns under one rule."""

from django.db import models
from django.db.models import F, Q

from billing.models.fields import amount_field, currency_field, rate_field
from config.history import AuditedManager, ConcordHistory
from partners.choices import AccrualSource
from partners.models.agreement import Agreement, CommissionRule
from partners.models.partner import Partner


class Accrual(models.Model):
    """One per (source, rule), unique on (rule, source_key).

    `source_key` names the source exactly ("invoice_line:17", "credit_line:4>accrual:9",
    "credit_line:4>rerate:12", "refund:2>cap:15",
    "payment:3>invoice_line:17", "period:2026-04-01"); `source_ref` is the same for people
    ("INV-1 line 1"). `rate` is the percent (or the unit amount of a per_unit rule) applied
    to `basis_amount`. A clawback (credit line, refund, write-off) has a negative amount and
    `clawback_of` the accrual it reverses; the clawbacks of one accrual never exceed it.
    `period_start`/`period_end` is the agreement's settlement period that `accrued_on` falls
    in. Recomputing rewrites an accrual only while no frozen (approved or later) statement
    holds it.
    """

    # No index of their own for partner and rule: period_idx (partner first) and the unique
    # (rule, source_key) serve their look-ups; each index is paid on every accrual written.
    partner = models.ForeignKey(
        Partner, on_delete=models.PROTECT, related_name="accruals", db_index=False
    )
    agreement = models.ForeignKey(Agreement, on_delete=models.PROTECT, related_name="accruals")
    rule = models.ForeignKey(
        CommissionRule, on_delete=models.PROTECT, related_name="accruals", db_index=False
    )
    source_kind = models.CharField(max_length=16, choices=AccrualSource.choices)
    source_key = models.CharField(max_length=128)
    source_ref = models.CharField(max_length=300)
    customer = models.ForeignKey(
        "billing.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The billing documents behind it (for statements, holds and reversals); no index beyond
    # the foreign key's: reversals look accruals up by invoice or payment.
    invoice = models.ForeignKey(
        "billing.Invoice", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    payment = models.ForeignKey(
        "billing.Payment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    accrued_on = models.DateField()
    period_start = models.DateField()
    period_end = models.DateField()
    rate = rate_field()
    basis_amount = amount_field()
    amount = amount_field()
    currency = currency_field()
    explanation = models.CharField(max_length=500)
    clawback_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="clawbacks"
    )
    objects = AuditedManager()
    # The history is read per accrual (its id) and by date; its copies of the foreign keys
    # are not looked up, so they are not indexed (7 of 11 indexes, paid per history row).
    history = ConcordHistory(
        no_db_index=[
            "partner",
            "agreement",
            "rule",
            "customer",
            "invoice",
            "payment",
            "clawback_of",
        ]
    )

    class Meta:
        ordering = ["accrued_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "source_key"], name="partners_accrual_one_per_source_rule"
            ),
            models.CheckConstraint(
                # A clawback is negative, except the release of a negative period
                # adjustment, a cap's or a true-up's (partners.services.rerate:
                # "<reversal>>cap:<accrual>", "<reversal>>rerate:<accrual>").
                condition=Q(clawback_of__isnull=True)
                | Q(amount__lte=0)
                | Q(source_key__contains=">cap:")
                | Q(source_key__contains=">rerate:"),
                name="partners_accrual_clawback_not_positive",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")),
                name="partners_accrual_period_order",
            ),
        ]
        indexes = [
            models.Index(
                fields=["partner", "currency", "period_start"], name="partners_accrual_period_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source_ref} {self.rule_id}: {self.amount} {self.currency}"
