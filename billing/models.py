"""Billing records: the canonical event log and what the events build.

`FinanceEvent` is the append-only, replayable log of every canonical event (and the outbox
later layers consume). Applying an event creates or changes the records below in the same
transaction. Every record keeps the event that made it (`event`) for lineage, and history.
Money columns are Decimal, named `<name>_amount`, with `currency` beside them.
"""

from decimal import Decimal

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.db.models.lookups import Exact, GreaterThanOrEqual
from django.utils import timezone
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from billing.choices import (
    BillingInterval,
    ErpStatus,
    FinanceEventState,
    InvoiceState,
    SubscriptionState,
)
from config.history import ConcordHistory
from config.indexes import BrinOrBtreeIndex
from config.money import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_MAX_DIGITS,
    RATE_DECIMAL_PLACES,
    RATE_MAX_DIGITS,
)

ZERO = Decimal(0)


def amount_field(**kwargs) -> models.DecimalField:
    kwargs.setdefault("default", ZERO)
    return models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs
    )


def rate_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, **kwargs
    )


def _adds_up() -> Exact:
    """total = subtotal + tax, compared after rounding: SQLite keeps decimals as floats."""
    return Exact(
        Round(F("total_amount") - F("subtotal_amount") - F("tax_amount"), AMOUNT_DECIMAL_PLACES),
        0,
    )


def currency_field() -> models.CharField:
    return models.CharField(max_length=3)


class FinanceEvent(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """One canonical event as received: unique per (source, event_id), never edited.

    State: received → applied | quarantined; quarantined → applied (replay) | discarded.
    `result` is what the ingest call answered, returned again for a duplicate.
    """

    source = models.CharField(max_length=200)
    event_id = models.CharField(max_length=200)
    type = models.CharField(max_length=64)
    specversion = models.CharField(max_length=8, default="1.0")
    event_time = models.DateTimeField()
    entity = models.CharField(max_length=16)
    correlation_id = models.CharField(max_length=128, blank=True, default="")
    body = models.JSONField(encoder=DjangoJSONEncoder)
    body_digest = models.CharField(max_length=64)
    state = FSMField(
        choices=FinanceEventState.choices, default=FinanceEventState.RECEIVED, protected=True
    )
    quarantine_reason = models.CharField(max_length=64, blank=True, default="")
    quarantine_detail = models.TextField(blank=True, default="")
    apply_attempts = models.PositiveIntegerField(default=0)
    result = models.JSONField(encoder=DjangoJSONEncoder, default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    applied_at = models.DateTimeField(null=True, blank=True)
    # The outbox marker: set once the event's receivers have acted on it (erp_sync: its sync
    # jobs exist), or at receipt when no receiver subscribed to its type (billing.signals).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # Who sent it. Not a database constraint, here and on the history's actor: every event of
    # a batch names the same service user, and the two deferred checks per event (each a
    # key-share lock on that one user row, which concurrent batches share) cost about 10 us
    # of PostgreSQL per event, 13%, on the ingest benchmark. Django still applies SET_NULL
    # when a user is deleted through it.
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # The log is append-only and written at thousands of rows a second: every index is paid
    # per event, so only the lookups the API and console make are indexed (see Meta), and the
    # history copies none of them but the event's id.
    history = ConcordHistory(
        excluded_fields=["body", "result"],
        no_db_index=["type", "entity", "received_at", "received_by"],
        user_db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "event_id"], name="billing_event_source_id_uniq"
            )
        ]
        indexes = [
            # Lists filter by entity, by type, and by the states an operator works on; an
            # applied event (nearly all of them) costs no entry in the state index.
            models.Index(fields=["entity", "event_time"], name="billing_evt_entity_time_idx"),
            models.Index(fields=["type", "id"], name="billing_evt_type_idx"),
            models.Index(
                fields=["state", "type"],
                name="billing_evt_open_state_idx",
                condition=~Q(state="applied"),
            ),
            models.Index(
                fields=["state", "dispatched_at"],
                name="billing_evt_undispatched_idx",
                condition=Q(state="applied", dispatched_at__isnull=True),
            ),
            # received_at grows with the log: a BRIN index answers date ranges for a few
            # pages of index instead of a B-tree entry per event.
            BrinOrBtreeIndex(fields=["received_at"], name="billing_evt_received_brin"),
        ]
        permissions = [
            ("replay_financeevent", "Can replay a quarantined finance event"),
            ("discard_financeevent", "Can discard a quarantined finance event"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.source}/{self.event_id}"

    @property
    def data(self) -> dict:
        return self.body.get("data", {})

    @transition(
        field=state,
        source=FinanceEventState.RECEIVED,
        target=FinanceEventState.APPLIED,
        custom={"label": "Apply", "style": "primary"},
    )
    def apply(self) -> None:
        """The event's effects are recorded."""
        self.applied_at = timezone.now()
        self.quarantine_reason = ""
        self.quarantine_detail = ""

    @transition(
        field=state,
        source=FinanceEventState.RECEIVED,
        target=FinanceEventState.QUARANTINED,
        custom={"label": "Quarantine", "style": "warning"},
    )
    def quarantine(self, reason: str, detail: str) -> None:
        """Well-formed but cannot be applied now; waits for a fix and a replay."""
        self.quarantine_reason = reason
        self.quarantine_detail = detail

    @transition(
        field=state,
        source=FinanceEventState.QUARANTINED,
        target=FinanceEventState.APPLIED,
        custom={"label": "Replay", "style": "primary"},
    )
    def replay(self) -> None:
        """Applied on replay after its cause was fixed."""
        self.applied_at = timezone.now()
        self.quarantine_reason = ""
        self.quarantine_detail = ""

    @transition(
        field=state,
        source=FinanceEventState.QUARANTINED,
        target=FinanceEventState.DISCARDED,
        custom={"label": "Discard", "style": "danger"},
    )
    def discard(self) -> None:
        """A person decided the event must never be applied."""


class LegalEntity(models.Model):
    """A company in the group that keeps its own books (US01, DE01, ...)."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    currency = currency_field()
    country = models.CharField(max_length=2)
    # Books are closed through this date: events dated on or before it are quarantined.
    closed_through = models.DateField(null=True, blank=True)
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
    history = ConcordHistory()

    class Meta:
        ordering = ["customer_id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.customer_id})"


class Plan(models.Model):
    """A sellable plan; its product family drives ERP mapping and partner commission."""

    plan_code = models.CharField(max_length=100, unique=True)
    product_family = models.CharField(max_length=100)
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


class ErpTracked(models.Model):
    """Where the record stands in the ERP; written only by erp_sync through billing services."""

    erp_status = models.CharField(
        max_length=16, choices=ErpStatus.choices, default=ErpStatus.NOT_SENT, db_index=True
    )
    erp_document_number = models.CharField(max_length=100, blank=True, default="")
    erp_document_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        abstract = True


class Invoice(ConcurrentTransitionMixin, FSMModelMixin, ErpTracked):
    """issued → partially_paid → paid; issued | partially_paid → credited | written_off.

    open = total - paid - credited - written off, never negative (a database constraint).
    """

    invoice_id = models.CharField(max_length=200, unique=True)
    entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="invoices")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="invoices")
    subscription = models.ForeignKey(
        Subscription, null=True, blank=True, on_delete=models.PROTECT, related_name="invoices"
    )
    issue_date = models.DateField(db_index=True)
    due_date = models.DateField()
    currency = currency_field()
    subtotal_amount = amount_field()
    tax_amount = amount_field()
    total_amount = amount_field()
    paid_amount = amount_field()
    credited_amount = amount_field()
    written_off_amount = amount_field()
    state = FSMField(choices=InvoiceState.choices, default=InvoiceState.ISSUED, protected=True)
    event = models.ForeignKey(FinanceEvent, on_delete=models.PROTECT, related_name="+")
    history = ConcordHistory()

    class Meta:
        ordering = ["-issue_date", "invoice_id"]
        constraints = [
            models.CheckConstraint(
                condition=_adds_up(),
                name="billing_invoice_total_adds_up",
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(
                    Round(
                        F("total_amount")
                        - F("paid_amount")
                        - F("credited_amount")
                        - F("written_off_amount"),
                        AMOUNT_DECIMAL_PLACES,
                    ),
                    0,
                ),
                name="billing_invoice_not_over_settled",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0, credited_amount__gte=0, written_off_amount__gte=0),
                name="billing_invoice_settled_non_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["entity", "issue_date"], name="billing_inv_entity_date_idx")
        ]

    def __str__(self) -> str:
        return self.invoice_id

    @property
    def open_amount(self) -> Decimal:
        return self.total_amount - self.paid_amount - self.credited_amount - self.written_off_amount

    _OPEN = [InvoiceState.ISSUED, InvoiceState.PARTIALLY_PAID]

    @transition(
        field=state,
        source=_OPEN,
        target=RETURN_VALUE(InvoiceState.PARTIALLY_PAID, InvoiceState.PAID),
        custom={"label": "Record payment", "style": "primary"},
    )
    def record_payment(self, *, amount: Decimal) -> str:
        """Adds an allocated payment; paid when nothing is left open."""
        self.paid_amount += amount
        return InvoiceState.PAID if self.open_amount == 0 else InvoiceState.PARTIALLY_PAID

    @transition(
        field=state,
        source=_OPEN,
        target=RETURN_VALUE(
            InvoiceState.ISSUED, InvoiceState.PARTIALLY_PAID, InvoiceState.CREDITED
        ),
        custom={"label": "Credit", "style": "warning"},
    )
    def credit(self, *, amount: Decimal) -> str:
        """Adds a credit note; credited when the credits close the invoice."""
        self.credited_amount += amount
        if self.open_amount == 0:
            return InvoiceState.CREDITED
        return self.state

    @transition(
        field=state,
        source=_OPEN,
        target=InvoiceState.WRITTEN_OFF,
        custom={"label": "Write off", "style": "danger"},
    )
    def write_off(self, *, amount: Decimal) -> None:
        """Writes off what is left open."""
        self.written_off_amount += amount


class DocumentLine(models.Model):
    """A line of an invoice or credit note, as the billing platform sent it."""

    line_id = models.CharField(max_length=200)
    description = models.CharField(max_length=500)
    product_family = models.CharField(max_length=100)
    quantity = rate_field()
    unit_price = rate_field()
    amount = amount_field()
    tax_code = models.CharField(max_length=32, blank=True, default="")
    tax_amount = amount_field()

    class Meta:
        abstract = True


class InvoiceLine(DocumentLine):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")

    class Meta:
        ordering = ["invoice", "id"]
        constraints = [
            models.UniqueConstraint(fields=["invoice", "line_id"], name="billing_invoiceline_uniq")
        ]


class CreditNote(ErpTracked):
    credit_note_id = models.CharField(max_length=200, unique=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="credit_notes")
    entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="credit_notes")
    issue_date = models.DateField(db_index=True)
    currency = currency_field()
    subtotal_amount = amount_field()
    tax_amount = amount_field()
    total_amount = amount_field()
    reason = models.CharField(max_length=300)
    event = models.ForeignKey(FinanceEvent, on_delete=models.PROTECT, related_name="+")
    history = ConcordHistory()

    class Meta:
        ordering = ["-issue_date", "credit_note_id"]
        constraints = [
            models.CheckConstraint(
                condition=_adds_up(),
                name="billing_creditnote_total_adds_up",
            )
        ]

    def __str__(self) -> str:
        return self.credit_note_id


class CreditNoteLine(DocumentLine):
    credit_note = models.ForeignKey(CreditNote, on_delete=models.CASCADE, related_name="lines")

    class Meta:
        ordering = ["credit_note", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["credit_note", "line_id"], name="billing_creditnoteline_uniq"
            )
        ]


class Payment(ErpTracked):
    """Money received. allocated + unallocated = amount; refunds never exceed the amount."""

    payment_id = models.CharField(max_length=200, unique=True)
    entity = models.ForeignKey(LegalEntity, on_delete=models.PROTECT, related_name="payments")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="payments")
    amount = amount_field()
    currency = currency_field()
    received_at = models.DateTimeField(db_index=True)
    method = models.CharField(max_length=64)
    allocated_amount = amount_field()
    refunded_amount = amount_field()
    event = models.ForeignKey(FinanceEvent, on_delete=models.PROTECT, related_name="+")
    history = ConcordHistory()

    class Meta:
        ordering = ["-received_at", "payment_id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="billing_payment_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(allocated_amount__lte=F("amount"), allocated_amount__gte=0),
                name="billing_payment_not_over_allocated",
            ),
            models.CheckConstraint(
                condition=Q(refunded_amount__lte=F("amount"), refunded_amount__gte=0),
                name="billing_payment_not_over_refunded",
            ),
        ]

    def __str__(self) -> str:
        return self.payment_id

    @property
    def unallocated_amount(self) -> Decimal:
        return self.amount - self.allocated_amount


class PaymentAllocation(models.Model):
    payment = models.ForeignKey(Payment, on_delete=models.CASCADE, related_name="allocations")
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, related_name="allocations")
    amount = amount_field()
    history = ConcordHistory()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["payment", "invoice"], name="billing_allocation_uniq"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_allocation_positive"),
        ]


class Refund(ErpTracked):
    refund_id = models.CharField(max_length=200, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = amount_field()
    currency = currency_field()
    issued_at = models.DateTimeField()
    event = models.ForeignKey(FinanceEvent, on_delete=models.PROTECT, related_name="+")
    history = ConcordHistory()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_refund_amount_positive")
        ]

    def __str__(self) -> str:
        return self.refund_id


class WriteOff(ErpTracked):
    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, related_name="write_off_record"
    )
    amount = amount_field()
    currency = currency_field()
    reason = models.CharField(max_length=300)
    event = models.ForeignKey(FinanceEvent, on_delete=models.PROTECT, related_name="+")
    history = ConcordHistory()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="billing_writeoff_amount_positive"
            )
        ]
