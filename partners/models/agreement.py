"""Agreements (effective-dated, versioned) and their commission rules and tiers.

Rates are percentages (20 means 20%), stored with the precision of `config.money`'s rates.
An active agreement is never edited: `agreement_version_create` supersedes it with a new
version, so an accrual keeps pointing at the version (and rule) it was computed with.
"""

from django.db import models
from django.db.models import F, Q
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from billing.models.fields import amount_field, currency_field, rate_field
from config.history import AuditedManager, ConcordHistory
from partners.choices import (
    AgreementState,
    CommissionBasis,
    RuleKind,
    SettlementPeriod,
    TierMode,
)
from partners.models.partner import Partner


class Agreement(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """One version of a partner's agreement: active → superseded (by the next version).

    Active versions of one partner never overlap in dates (service check under the partner's
    row lock; PostgreSQL exclusion constraint). `effective_to` is exclusive. A version that
    a later one follows from a date stays active for the days before it (two active versions
    of one reference, one after the other).
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="agreements")
    reference = models.CharField(max_length=64)
    version = models.PositiveIntegerField(default=1)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    currency = currency_field()
    settlement_period = models.CharField(max_length=8, choices=SettlementPeriod.choices)
    basis = models.CharField(max_length=16, choices=CommissionBasis.choices)
    tier_mode = models.CharField(
        max_length=16, choices=TierMode.choices, default=TierMode.WHOLE_VOLUME
    )
    # A distributor's rules also apply to deals attributed to its child partners (resellers).
    override_on_children = models.BooleanField(default=False)
    state = FSMField(choices=AgreementState.choices, default=AgreementState.ACTIVE, protected=True)
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["partner", "effective_from", "version"]
        constraints = [
            models.UniqueConstraint(
                fields=["reference", "version"], name="partners_agreement_reference_version_uniq"
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gt=F("effective_from")),
                name="partners_agreement_range_order",
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1), name="partners_agreement_version_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} v{self.version}"

    @transition(
        field=state,
        source=AgreementState.ACTIVE,
        target=AgreementState.SUPERSEDED,
        custom={"label": "Supersede", "style": "secondary"},
    )
    def supersede(self) -> None:
        """A newer version replaces this one; accruals made with it keep pointing here."""

    def covers(self, day) -> bool:
        return self.effective_from <= day and (self.effective_to is None or day < self.effective_to)


class CommissionRule(models.Model):
    """One rule of an agreement version. Which columns matter depends on `kind`:

    percent_of_net: rate_percent · tiered: tiers (and the agreement's tier_mode) ·
    per_unit: unit_amount per unit of quantity · rebate: rate_percent once the period volume
    exceeds threshold_amount · cap: cap_amount (and optional floor_amount) per period.
    `product_families` and `countries` (customer country) limit the lines it applies to;
    empty means all.
    """

    agreement = models.ForeignKey(Agreement, on_delete=models.CASCADE, related_name="rules")
    code = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=RuleKind.choices)
    rate_percent = rate_field(null=True, blank=True)
    unit_amount = amount_field(null=True, blank=True, default=None)
    threshold_amount = amount_field(null=True, blank=True, default=None)
    cap_amount = amount_field(null=True, blank=True, default=None)
    floor_amount = amount_field(null=True, blank=True, default=None)
    product_families = models.JSONField(default=list, blank=True)
    countries = models.JSONField(default=list, blank=True)
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["agreement", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agreement", "code"], name="partners_rule_code_uniq_per_agreement"
            ),
            models.CheckConstraint(
                condition=Q(rate_percent__isnull=True)
                | Q(rate_percent__gte=0, rate_percent__lte=100),
                name="partners_rule_rate_0_to_100",
            ),
            models.CheckConstraint(
                condition=Q(cap_amount__isnull=True)
                | Q(floor_amount__isnull=True)
                | Q(cap_amount__gte=F("floor_amount")),
                name="partners_rule_cap_not_below_floor",
            ),
            models.CheckConstraint(
                condition=Q(unit_amount__isnull=True) | Q(unit_amount__gte=0),
                name="partners_rule_unit_amount_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def applies_to(self, *, product_family: str, country: str) -> bool:
        return (not self.product_families or product_family in self.product_families) and (
            not self.countries or country in self.countries
        )


class CommissionTier(models.Model):
    """A band of a tiered rule: period volume from `lower_amount` (inclusive) to
    `upper_amount` (exclusive, None for the last band) earns `rate_percent`."""

    rule = models.ForeignKey(CommissionRule, on_delete=models.CASCADE, related_name="tiers")
    lower_amount = amount_field()
    upper_amount = amount_field(null=True, blank=True, default=None)
    rate_percent = rate_field()
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["rule", "lower_amount"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "lower_amount"], name="partners_tier_lower_uniq_per_rule"
            ),
            models.CheckConstraint(
                condition=Q(upper_amount__isnull=True) | Q(upper_amount__gt=F("lower_amount")),
                name="partners_tier_band_order",
            ),
            models.CheckConstraint(
                condition=Q(rate_percent__gte=0, rate_percent__lte=100),
                name="partners_tier_rate_0_to_100",
            ),
            models.CheckConstraint(
                condition=Q(lower_amount__gte=0), name="partners_tier_lower_non_negative"
            ),
        ]
