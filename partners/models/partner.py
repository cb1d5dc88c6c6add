"""Channel partners and what ties a deal to them (attribution)."""

from django.db import models
from django.db.models import F, Q

from config.history import AuditedManager, ConcordHistory
from config.links import reverse_id
from partners.choices import AttributionOrigin, AttributionRole, PartnerKind


class Partner(models.Model):
    """A channel partner, kept from `partner.upserted` events; may sit under a parent partner.

    `paying_entity` is the legal entity whose books carry the partner's commission: the entity
    of the first upsert event unless a person set it.
    """

    partner_id = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=300)
    kind = models.CharField(max_length=16, choices=PartnerKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    country = models.CharField(max_length=2)
    currency = models.CharField(max_length=3)
    paying_entity = models.ForeignKey(
        "billing.LegalEntity",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="paid_partners",
    )
    event = models.ForeignKey(
        "billing.FinanceEvent", null=True, on_delete=models.PROTECT, related_name="+"
    )
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["partner_id"]
        permissions = [("view_own_statements", "Can read own partner statements (portal)")]

    def __str__(self) -> str:
        return f"{self.name} ({self.partner_id})"

    def get_absolute_url(self) -> str:
        return reverse_id("partners:partner-detail", self.pk)


class Attribution(models.Model):
    """A subscription or a customer credited to a partner in a role, from `valid_from`.

    `valid_to` is exclusive (None: open-ended). A subscription's attribution wins over its
    customer's. Two attributions of one subscription (or customer) in one role may not
    overlap: refused by `attribution_create` under a lock, and on PostgreSQL also by an
    exclusion constraint (migration 0003).
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="attributions")
    subscription = models.ForeignKey(
        "billing.Subscription",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="partner_attributions",
    )
    customer = models.ForeignKey(
        "billing.Customer",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="partner_attributions",
    )
    role = models.CharField(max_length=16, choices=AttributionRole.choices)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    origin = models.CharField(max_length=16, choices=AttributionOrigin.choices)
    event = models.ForeignKey(
        "billing.FinanceEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["partner", "valid_from", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(subscription__isnull=False, customer__isnull=True)
                | Q(subscription__isnull=True, customer__isnull=False),
                name="partners_attribution_one_target",
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="partners_attribution_range_order",
            ),
        ]

    def __str__(self) -> str:
        target = self.subscription_id and f"subscription {self.subscription_id}"
        return f"{self.partner_id} {self.role} of {target or f'customer {self.customer_id}'}"

    def covers(self, day) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)
