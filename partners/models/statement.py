"""The statement of a settlement, frozen at approval."""

from django.db import models

from billing.models.fields import amount_field, currency_field
from partners.models.settlement import Settlement


class SettlementStatement(models.Model):
    """What the partner is paid, as it stood when the settlement was approved.

    Written once by `settlement_approve` in the approval's transaction and never changed:
    `snapshot` holds the lines (source, rule, rate, basis, amount, explanation, and for a
    clawback the original statement line it refers to), the rules and rates applied and the
    totals by line kind, as JSON with amounts as decimal strings. The CSV, the printable page
    and the PDF are all rendered from it, so a later change to an accrual, a rule or a line
    never changes a statement already approved.
    """

    settlement = models.OneToOneField(
        Settlement, on_delete=models.PROTECT, related_name="statement"
    )
    frozen_at = models.DateTimeField()
    total_amount = amount_field()
    currency = currency_field()
    snapshot = models.JSONField()

    class Meta:
        ordering = ["-frozen_at"]

    def __str__(self) -> str:
        return f"statement of settlement {self.settlement_id}"
