"""Reconciliation records: runs, what each side held at a run, matches and breaks.

A run stores both sides it compared (`ErpSnapshotRow`: what the ERP listed; `BillingSnapshotRow`:
what billing held, with the key and tolerance used), so every match and break of a run can be
explained from the run's own rows. Breaks outlive runs: one row per natural key per
(entity, period, scope), updated by each run that finds it and resolved by the first that no
longer does. Money columns are Decimal, `<name>_amount`, with a currency beside them.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from config.history import AuditedManager, ConcordHistory
from config.links import reverse_id
from config.money import (
    AMOUNT_DECIMAL_PLACES,
    AMOUNT_MAX_DIGITS,
    RATE_DECIMAL_PLACES,
    RATE_MAX_DIGITS,
)
from reconciliation.choices import (
    ACTIVE_RUN_STATES,
    SIDE_LABELS,
    BreakKind,
    BreakState,
    DocumentStatus,
    MatchRule,
    MatchStatus,
    RunScope,
    RunState,
)


def amount_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, **kwargs
    )


class ReconciliationRun(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """One comparison of one entity, period and scope: queued → running → completed | failed.

    At most one queued or running run per (entity, period, scope): a partial unique
    constraint, so two starters racing meet in the database.
    """

    entity = models.ForeignKey(
        "billing.LegalEntity", on_delete=models.PROTECT, related_name="reconciliation_runs"
    )
    connection = models.ForeignKey(
        "erp_sync.Connection", on_delete=models.PROTECT, related_name="reconciliation_runs"
    )
    period_start = models.DateField()
    period_end = models.DateField()
    scope = models.CharField(max_length=16, choices=RunScope.choices, default=RunScope.DOCUMENTS)
    state = FSMField(choices=RunState.choices, default=RunState.QUEUED, protected=True)
    failure_reason = models.TextField(blank=True, default="")
    # Progress while running: the step and how far it got (committed between steps).
    progress_step = models.CharField(max_length=32, blank=True, default="")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    erp_row_count = models.PositiveIntegerField(default=0)
    billing_row_count = models.PositiveIntegerField(default=0)
    matched_count = models.PositiveIntegerField(default=0)
    suggested_count = models.PositiveIntegerField(default=0)
    break_count = models.PositiveIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "period_start", "period_end", "scope"],
                condition=Q(state__in=ACTIVE_RUN_STATES),
                name="recon_run_one_active_per_scope",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="recon_run_period_order"
            ),
        ]
        indexes = [
            models.Index(
                fields=["entity", "period_start", "scope", "state"], name="recon_run_scope_idx"
            )
        ]

    def __str__(self) -> str:
        return f"run #{self.pk} {self.scope} {self.period_start:%Y-%m}"

    def get_absolute_url(self) -> str:
        return reverse_id("reconciliation:run-detail", self.pk)

    @property
    def side_labels(self) -> tuple[str, str]:
        """What the scope calls its two sides ("Billing", "ERP" for documents)."""
        return SIDE_LABELS.get(self.scope, SIDE_LABELS[RunScope.DOCUMENTS])

    @transition(
        field=state,
        source=RunState.QUEUED,
        target=RunState.RUNNING,
        custom={"label": "Start", "style": "primary"},
    )
    def start(self) -> None:
        """A worker took the run."""
        self.started_at = timezone.now()
        self.progress_step = "listing"

    @transition(
        field=state,
        source=RunState.RUNNING,
        target=RunState.COMPLETED,
        custom={"label": "Complete", "style": "primary"},
    )
    def complete(self, *, matched: int, suggested: int, breaks: int) -> None:
        """Matching and classification finished; the counts are the run's result."""
        self.matched_count = matched
        self.suggested_count = suggested
        self.break_count = breaks
        self.progress_step = "done"
        self.finished_at = timezone.now()

    @transition(
        field=state,
        source=[RunState.QUEUED, RunState.RUNNING],
        target=RunState.FAILED,
        custom={"label": "Fail", "style": "danger"},
    )
    def fail(self, *, reason: str) -> None:
        """The run could not finish (the ERP failed mid-listing, ...); `reason` says why."""
        self.failure_reason = reason
        self.finished_at = timezone.now()


class CurrencyTolerance(models.Model):
    """How far two amounts of a currency may differ and still agree (rounding residue).

    A currency without a row tolerates one minor unit (0.01 USD, 1 JPY).
    """

    currency = models.CharField(max_length=3, unique=True)
    tolerance_amount = amount_field()
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["currency"]
        constraints = [
            models.CheckConstraint(
                condition=Q(tolerance_amount__gte=0), name="recon_tolerance_non_negative"
            )
        ]

    def __str__(self) -> str:
        return f"{self.currency} ±{self.tolerance_amount}"


class SnapshotRow(models.Model):
    """The columns both sides share: what one document said at the run."""

    kind = models.CharField(max_length=16)
    external_id = models.CharField(max_length=200, blank=True, default="")
    number = models.CharField(max_length=200, blank=True, default="")
    party_code = models.CharField(max_length=200, blank=True, default="")
    currency = models.CharField(max_length=3)
    net_amount = amount_field(null=True, blank=True)
    tax_amount = amount_field(default=Decimal(0))
    total_amount = amount_field()
    status = models.CharField(max_length=16, choices=DocumentStatus.choices, blank=True, default="")
    document_date = models.DateField()

    class Meta:
        abstract = True


class ErpSnapshotRow(SnapshotRow):
    """One document as the ERP listed it for the run (never changed after the run)."""

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="erp_rows")
    # The source document number the ERP holds as its reference, when the adapter lists it.
    reference = models.CharField(max_length=200, blank=True, default="")
    # The external id of the document this one applies to, when the ERP knows it.
    parent_external_id = models.CharField(max_length=200, blank=True, default="")
    state = models.CharField(max_length=32, blank=True, default="", help_text="As the ERP says.")

    class Meta:
        indexes = [
            models.Index(fields=["run", "external_id"], name="recon_erp_row_ext_idx"),
            models.Index(fields=["run", "number"], name="recon_erp_row_number_idx"),
            models.Index(fields=["run", "party_code"], name="recon_erp_row_party_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.number or self.external_id}"

    @property
    def key(self) -> str:
        """How a break names this ERP document across runs: its external id and its number
        (two listed documents may share an external id, never a number)."""
        return f"erp:{self.external_id}|{self.number}"


class BillingSnapshotRow(SnapshotRow):
    """One billing document as billing held it at the run, with its ERP key and tolerance."""

    run = models.ForeignKey(
        ReconciliationRun, on_delete=models.CASCADE, related_name="billing_rows"
    )
    record_id = models.BigIntegerField(help_text="Primary key of the billing record.")
    # The ERP document number billing recorded when the document was posted.
    erp_number = models.CharField(max_length=100, blank=True, default="")
    tolerance_amount = amount_field()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "kind", "record_id"], name="recon_billing_row_record_uniq"
            )
        ]
        indexes = [
            models.Index(fields=["run", "external_id"], name="recon_bill_row_ext_idx"),
            models.Index(fields=["run", "erp_number"], name="recon_bill_row_number_idx"),
            models.Index(fields=["run", "party_code"], name="recon_bill_row_party_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.number}"

    @property
    def key(self) -> str:
        """How a break names this billing document across runs."""
        return f"{self.kind}:{self.number}"


def quantity_field(**kwargs) -> models.DecimalField:
    return models.DecimalField(
        max_digits=RATE_MAX_DIGITS, decimal_places=RATE_DECIMAL_PLACES, null=True, blank=True,
        **kwargs,
    )  # fmt: skip


class TotalsRow(models.Model):
    """One subject's totals on both sides at a run of the usage or partners scope.

    Usage: a subscription's usage recorded (expected) vs the usage lines invoiced (actual).
    Partners: a partner's accruals of a settlement period (expected) vs the settlement
    lines paying them (actual). One row per (run, subject, period, currency), written by one
    set-based statement (services/totals_sql.py) and never changed after the run.
    """

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="totals")
    subject = models.CharField(max_length=200, help_text="Subscription or partner id.")
    subject_start = models.DateField(help_text="Start of the subject's period.")
    party_code = models.CharField(max_length=200, blank=True, default="")
    currency = models.CharField(max_length=3)
    expected_count = models.PositiveIntegerField(default=0)
    expected_quantity = quantity_field()
    expected_amount = amount_field(default=Decimal(0))
    actual_count = models.PositiveIntegerField(default=0)
    actual_quantity = quantity_field()
    actual_amount = amount_field(default=Decimal(0))
    tolerance_amount = amount_field(default=Decimal(0))

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "subject", "subject_start", "currency"],
                name="recon_totals_subject_uniq",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.subject_start} {self.currency}"


class Match(FSMModelMixin, models.Model):
    """A billing document paired with an ERP row by one rule, with its reason code.

    A 1:N summary is N matches on one ERP row. Rule `suggested` starts `suggested` and a
    person confirms or rejects it (the decision carries over to later runs of the scope).
    """

    # No database constraint on the three keys (docs/decisions.md, "Match rows without
    # foreign-key constraints"): the engine writes every pair from its own run's snapshot rows
    # in one INSERT ... SELECT, and a million deferred checks made the commit 60% of a run.
    # Deleting a run, or a snapshot row, still deletes its matches (Django's CASCADE).
    # `run` and `billing_row` have no index of their own: the pair constraint (run,
    # billing_row, erp_row) serves both, and every reader asks within a run.
    run = models.ForeignKey(
        ReconciliationRun,
        on_delete=models.CASCADE,
        related_name="matches",
        db_constraint=False,
        db_index=False,
    )
    billing_row = models.ForeignKey(
        BillingSnapshotRow,
        on_delete=models.CASCADE,
        related_name="matches",
        db_constraint=False,
        db_index=False,
    )
    erp_row = models.ForeignKey(
        ErpSnapshotRow, on_delete=models.CASCADE, related_name="matches", db_constraint=False
    )
    rule = models.CharField(max_length=16, choices=MatchRule.choices)
    status = FSMField(choices=MatchStatus.choices, default=MatchStatus.MATCHED, protected=True)
    # Indexed only where set (a partial index, below): the engine writes a million rows
    # without it, and deleting a user finds the few they decided.
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["run", "billing_row", "erp_row"], name="recon_match_pair_uniq"
            )
        ]
        indexes = [
            # Only the rows a person decides on (or did): a million `matched` rows a run
            # would each add an entry no query needs (a run's matched rows are read
            # through the pair constraint, which leads with the run).
            models.Index(
                fields=["run", "status"],
                condition=~models.Q(status=MatchStatus.MATCHED),
                name="recon_match_status_idx",
            ),
            models.Index(
                fields=["decided_by"],
                condition=models.Q(decided_by__isnull=False),
                name="recon_match_decided_by_idx",
            ),
        ]
        verbose_name_plural = "matches"

    def __str__(self) -> str:
        return f"match #{self.pk} ({self.rule}, {self.status})"

    @transition(
        field=status,
        source=MatchStatus.SUGGESTED,
        target=MatchStatus.CONFIRMED,
        custom={"label": "Confirm", "style": "primary"},
    )
    def confirm(self, *, by, note: str = "") -> None:
        """A person agrees the two sides are the same document."""
        self.decided_by, self.decided_at, self.decision_note = by, timezone.now(), note

    @transition(
        field=status,
        source=MatchStatus.SUGGESTED,
        target=MatchStatus.REJECTED,
        custom={"label": "Reject", "style": "secondary"},
    )
    def reject(self, *, by, note: str = "") -> None:
        """A person says the two sides are different documents."""
        self.decided_by, self.decided_at, self.decision_note = by, timezone.now(), note


class Break(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """A difference between billing and the ERP: open → accepted (with a note) | resolved.

    Unique per (entity, period, scope, key): `key` is `<kind>|<side key>` (the billing
    document for missing_in_erp and the mismatches, the ERP document otherwise), so a re-run
    updates the row instead of adding one. A resolved break found again is reopened.
    """

    entity = models.ForeignKey("billing.LegalEntity", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    scope = models.CharField(max_length=16, choices=RunScope.choices)
    kind = models.CharField(max_length=24, choices=BreakKind.choices)
    key = models.CharField(max_length=255)
    state = FSMField(choices=BreakState.choices, default=BreakState.OPEN, protected=True)
    party_code = models.CharField(max_length=200, blank=True, default="")
    document_date = models.DateField(null=True, blank=True)
    # Billing's side ("" / null when billing has no such document).
    billing_kind = models.CharField(max_length=16, blank=True, default="")
    billing_number = models.CharField(max_length=200, blank=True, default="")
    billing_currency = models.CharField(max_length=3, blank=True, default="")
    billing_total_amount = amount_field(null=True, blank=True)
    billing_tax_amount = amount_field(null=True, blank=True)
    billing_status = models.CharField(max_length=16, blank=True, default="")
    # Usage scope: the quantities recorded (billing side) and invoiced (the other side).
    billing_quantity = quantity_field()
    erp_quantity = quantity_field()
    # The ERP's side ("" / null when the ERP lists no such document).
    erp_external_id = models.CharField(max_length=200, blank=True, default="")
    erp_number = models.CharField(max_length=200, blank=True, default="")
    erp_currency = models.CharField(max_length=3, blank=True, default="")
    erp_total_amount = amount_field(null=True, blank=True)
    erp_tax_amount = amount_field(null=True, blank=True)
    erp_status = models.CharField(max_length=16, blank=True, default="")
    # ERP minus billing in the compared amount (total, or tax for tax_mismatch); null when
    # the currencies differ.
    difference_amount = amount_field(null=True, blank=True)
    difference_currency = models.CharField(max_length=3, blank=True, default="")
    note = models.TextField(blank=True, default="")
    first_seen_run = models.ForeignKey(
        ReconciliationRun, on_delete=models.PROTECT, related_name="+"
    )
    last_seen_run = models.ForeignKey(ReconciliationRun, on_delete=models.PROTECT, related_name="+")
    resolved_run = models.ForeignKey(
        ReconciliationRun, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["kind", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "period_start", "period_end", "scope", "key"],
                name="recon_break_natural_key_uniq",
            )
        ]
        indexes = [
            models.Index(fields=["entity", "period_start", "state"], name="recon_break_state_idx")
        ]

    def __str__(self) -> str:
        side = self.billing_number or self.erp_number or self.erp_external_id
        return f"{self.get_kind_display()}: {side}"

    def get_absolute_url(self) -> str:
        return reverse_id("reconciliation:break-detail", self.pk)

    @property
    def side_labels(self) -> tuple[str, str]:
        """What the scope calls its two sides ("Billing", "ERP" for documents)."""
        return SIDE_LABELS.get(self.scope, SIDE_LABELS[RunScope.DOCUMENTS])

    @transition(
        field=state,
        source=BreakState.OPEN,
        target=BreakState.ACCEPTED,
        custom={"label": "Accept", "style": "warning"},
    )
    def accept(self, *, note: str, by) -> None:
        """A person accepts the difference as it is, saying why."""
        self.note = note
        self.accepted_by = by
        self.accepted_at = timezone.now()

    @transition(
        field=state,
        source=[BreakState.OPEN, BreakState.ACCEPTED],
        target=BreakState.RESOLVED,
        custom={"label": "Resolve", "style": "primary"},
    )
    def resolve(self, *, run=None) -> None:
        """The difference is gone (a run no longer finds it, or a confirmed match closed it)."""
        self.resolved_run = run
        self.resolved_at = timezone.now()

    @transition(
        field=state,
        source=BreakState.RESOLVED,
        target=BreakState.OPEN,
        custom={"label": "Reopen", "style": "danger"},
    )
    def reopen(self) -> None:
        """A run found the difference again."""
        self.resolved_run = None
        self.resolved_at = None
