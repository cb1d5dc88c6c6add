"""Channel partners. Agreements, accruals and settlements come with their own issue."""

from django.db import models

from config.history import ConcordHistory
from partners.choices import PartnerKind


class Partner(models.Model):
    """A channel partner, kept from `partner.upserted` events; may sit under a parent partner."""

    partner_id = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=16, choices=PartnerKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    country = models.CharField(max_length=2)
    currency = models.CharField(max_length=3)
    event = models.ForeignKey(
        "billing.FinanceEvent", null=True, on_delete=models.PROTECT, related_name="+"
    )
    history = ConcordHistory()

    class Meta:
        ordering = ["partner_id"]
        permissions = [("view_own_statements", "Can read own partner statements (portal)")]

    def __str__(self) -> str:
        return f"{self.name} ({self.partner_id})"
