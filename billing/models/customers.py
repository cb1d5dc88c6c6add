"""Who is billed and for what: legal entities, customers, plans, subscriptions, usage."""

from django.db import models
from django.db.models import F, Q
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from billing.choices import BillingInterval, SubscriptionState
from billing.models.events import FinanceEvent
from billing.models.fields import amount_field, currency_field, rate_field
from config.history import AuditedManager, ConcordHistory
from config.links import reverse_id


class LegalEntity(models.Model):
    """A company in the group that keeps its own books (US01, DE01, ...)."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    currency = currency_field()
    country = models.CharField(max_length=2)
    # Books are closed through this date: events dated on or before it are quarantined.
    closed_through = models.DateField(null=True, blank=True)
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        verbose_name_plural = "legal entities"
        ordering = ["code"]

    def __str__(self) -> str:
        return self.code


class Customer(models.Model):
    customer_id = models.CharField(max_length=200, unique=True)
    entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="customers")
    name = models.CharField(max_length=300)
    country = models.CharField(max_length=2)
    currency = currency_field()
    region = models.CharField(max_length=64, blank=True, default="")
    tax_id = models.CharField(max_length=64, blank=True, default="")
    event = models.ForeignKey(FinanceEvent, null=True, on_delete=models.PROTECT, related_name="+")
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["customer_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_id})"


class Plan(models.Model):
    """A sellable plan; its product family drives ERP mapping and partner commission."""

    plan_code = models.CharField(max_length=100, unique=True)
    product_family = models.CharField(max_length=100)
    objects = AuditedManager()
    history = ConcordHistory()

    def __str__(self) -> str:
        return self.plan_code


class Subscription(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """active → (amended stays active) → cancelled | expired; past_due ↔ active."""

    subscription_id = models.CharField(max_length=200, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="subscriptions")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="subscriptions")
    quantity = rate_field()
    unit_price = rate_field()
    currency = currency_field()
    interval = models.CharField(max_length=8, choices=BillingInterval.choices)
    start_date = models.DateField()
    term_end = models.DateField(null=True, blank=True)
    ended_on = models.DateField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=300, blank=True, default="")
    partner_code = models.CharField(max_length=200, blank=True, default="", db_index=True)
    partner_role = models.CharField(max_length=32, blank=True, default="")
    state = FSMField(
        choices=SubscriptionState.choices, default=SubscriptionState.ACTIVE, protected=True
    )
    event = models.ForeignKey(FinanceEvent, null=True, on_delete=models.PROTECT, related_name="+")
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["subscription_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="billing_subscription_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0), name="billing_subscription_price_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.subscription_id

    def get_absolute_url(self) -> str | None:
        """The event that created the subscription (it has no page of its own)."""
        return reverse_id("billing:event-detail", self.event_id) if self.event_id else None

    _LIVE = [SubscriptionState.ACTIVE, SubscriptionState.PAST_DUE]

    @transition(
        field=state,
        source=_LIVE,
        target=RETURN_VALUE(*_LIVE),
        custom={"label": "Amend", "style": "secondary"},
    )
    def amend(self, *, plan=None, quantity=None, unit_price=None) -> str:
        """Change plan, quantity or price; the state is unchanged."""
        if plan is not None:
            self.plan = plan
        if quantity is not None:
            self.quantity = quantity
        if unit_price is not None:
            self.unit_price = unit_price
        return self.state

    @transition(
        field=state,
        source=_LIVE,
        target=RETURN_VALUE(*_LIVE),
        custom={"label": "Renew", "style": "secondary"},
    )
    def renew(self, *, term_end) -> str:
        """Extend the term; the state is unchanged."""
        self.term_end = term_end
        return self.state

    @transition(
        field=state,
        source=_LIVE,
        target=SubscriptionState.CANCELLED,
        custom={"label": "Cancel", "style": "danger"},
    )
    def cancel(self, *, effective_date, reason: str = "") -> None:
        """Ends the subscription on `effective_date`."""
        self.ended_on = effective_date
        self.cancel_reason = reason

    @transition(
        field=state,
        source=_LIVE,
        target=SubscriptionState.EXPIRED,
        custom={"label": "Expire", "style": "secondary"},
    )
    def expire(self) -> None:
        """The term ended without renewal."""
        self.ended_on = self.term_end

    @transition(
        field=state,
        source=SubscriptionState.ACTIVE,
        target=SubscriptionState.PAST_DUE,
        custom={"label": "Mark past due", "style": "warning"},
    )
    def mark_past_due(self) -> None:
        """An invoice of the subscription is overdue."""

    @transition(
        field=state,
        source=SubscriptionState.PAST_DUE,
        target=SubscriptionState.ACTIVE,
        custom={"label": "Mark current", "style": "primary"},
    )
    def mark_current(self) -> None:
        """The overdue invoice was paid."""


class UsageRecord(models.Model):
    """Metered usage of one usage.recorded event: written once, never changed.

    No history table: the event that created it (the `event` link) records who sent it, when
    and under which correlation id, and nothing ever edits a usage record. Usage arrives at
    the rate of the event log, so a second copy of each row would double its cost.
    """

    usage_id = models.CharField(max_length=200)
    # Indexed by billing_usage_period_idx (subscription first).
    subscription = models.ForeignKey(
        Subscription, on_delete=models.PROTECT, related_name="usage", db_index=False
    )
    meter = models.CharField(max_length=100)
    quantity = rate_field()
    unit_price = rate_field()
    amount = amount_field()
    currency = currency_field()
    period_start = models.DateField()
    period_end = models.DateField()
    # Found by usage_id (in the event's body), never by event: no index on the link.
    event = models.ForeignKey(
        FinanceEvent, on_delete=models.PROTECT, related_name="+", db_index=False
    )

    class Meta:
        indexes = [
            models.Index(fields=["subscription", "period_start"], name="billing_usage_period_idx")
        ]
        constraints = [
            # A constraint rather than unique=True: the same index without the extra
            # varchar_pattern_ops one PostgreSQL gets for LIKE on a unique CharField.
            models.UniqueConstraint(fields=["usage_id"], name="billing_usage_id_uniq"),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="billing_usage_period_order"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=0), name="billing_usage_quantity_non_negative"
            ),
        ]
