"""Settlements per partner, period and currency, and their statement lines."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from billing.models.fields import amount_field, currency_field
from config.history import AuditedManager, ConcordHistory
from config.links import reverse_id
from partners.choices import SettlementLineKind, SettlementState
from partners.models.accrual import Accrual
from partners.models.partner import Partner

S = SettlementState


class Settlement(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """draft → calculated → submitted → approved → posted → paid; submitted → rejected →
    draft; calculated | submitted → on_hold → back to where it was.

    Four-eyes in the database too: `approved_by` is never `submitted_by`.
    `calculated_digest` fingerprints what calculate saw, so approval can refuse a stale one.
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="settlements")
    period_start = models.DateField()
    period_end = models.DateField()
    currency = currency_field()
    state = FSMField(choices=S.choices, default=S.DRAFT, protected=True)
    total_amount = amount_field()
    calculated_at = models.DateTimeField(null=True, blank=True)
    calculated_digest = models.CharField(max_length=64, blank=True, default="")
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.CharField(max_length=500, blank=True, default="")
    hold_reason = models.CharField(max_length=500, blank=True, default="")
    held_from = models.CharField(max_length=16, choices=S.choices, blank=True, default="")
    approved_event = models.ForeignKey(
        "billing.FinanceEvent", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["-period_start", "partner"]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "period_start", "currency"],
                name="partners_settlement_one_per_partner_period_currency",
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")),
                name="partners_settlement_period_order",
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("submitted_by")),
                name="partners_settlement_four_eyes",
            ),
        ]
        permissions = [("approve_settlement", "Can approve a partner settlement (four-eyes)")]

    def __str__(self) -> str:
        return f"{self.partner.partner_id} {self.period_start:%Y-%m} {self.currency}"

    def get_absolute_url(self) -> str:
        return reverse_id("partners:settlement-detail", self.pk)

    @transition(
        field=state,
        source=[S.DRAFT, S.CALCULATED],
        target=S.CALCULATED,
        custom={"label": "Calculate", "style": "primary"},
    )
    def calculate(self, *, total, digest: str, at) -> None:
        """Its lines were (re)built from the accruals; `digest` fingerprints them."""
        self.total_amount = total
        self.calculated_digest = digest
        self.calculated_at = at

    @transition(
        field=state,
        source=S.CALCULATED,
        target=S.SUBMITTED,
        custom={"label": "Submit", "style": "primary"},
    )
    def submit(self, *, by, at) -> None:
        """Sent for approval by `by`, who may not approve it."""
        self.submitted_by = by
        self.submitted_at = at

    @transition(
        field=state,
        source=S.SUBMITTED,
        target=S.APPROVED,
        custom={"label": "Approve", "style": "success"},
    )
    def approve(self, *, by, at) -> None:
        """A second person approved it; the statement is frozen."""
        self.approved_by = by
        self.approved_at = at

    @transition(
        field=state,
        source=S.SUBMITTED,
        target=S.REJECTED,
        custom={"label": "Reject", "style": "danger"},
    )
    def reject(self, *, reason: str) -> None:
        """Sent back with a reason."""
        self.rejection_reason = reason

    @transition(
        field=state,
        source=S.REJECTED,
        target=S.DRAFT,
        custom={"label": "Reopen", "style": "secondary"},
    )
    def reopen(self) -> None:
        """Back to draft after a rejection, to be recalculated."""
        self.submitted_by = None
        self.submitted_at = None
        self.calculated_digest = ""

    @transition(
        field=state,
        source=[S.CALCULATED, S.SUBMITTED],
        target=S.ON_HOLD,
        custom={"label": "Hold", "style": "warning"},
    )
    def hold(self, *, reason: str) -> None:
        """A blocking case touches the partner's customers in the period."""
        self.held_from = self.state
        self.hold_reason = reason

    @transition(
        field=state,
        source=S.ON_HOLD,
        target=RETURN_VALUE(S.CALCULATED, S.SUBMITTED),
        custom={"label": "Release", "style": "primary"},
    )
    def release(self) -> str:
        """The blocking cases closed: back to where it was held."""
        back = self.held_from or S.CALCULATED
        self.held_from = ""
        self.hold_reason = ""
        return back

    @transition(
        field=state,
        source=S.APPROVED,
        target=S.POSTED,
        custom={"label": "Mark posted", "style": "secondary"},
    )
    def post(self) -> None:
        """The vendor bill is in the ERP."""

    @transition(
        field=state,
        source=[S.APPROVED, S.POSTED],
        target=S.PAID,
        custom={"label": "Mark paid", "style": "success"},
    )
    def mark_paid(self) -> None:
        """The partner was paid."""


class SettlementLine(models.Model):
    """One statement line: at most one line per accrual (so no accrual is ever paid twice).

    The line keeps the accrual's amount as calculated. If a recompute removes the accrual
    of a line that is not frozen yet, the line stays (total = sum of lines still holds) with
    `accrual` empty, and the settlement's digest no longer matches: approval is refused as
    stale until it is calculated again. A clawback of an accrual that an earlier, frozen
    statement paid `refers_to` that statement's line.
    """

    settlement = models.ForeignKey(Settlement, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=16, choices=SettlementLineKind.choices)
    accrual = models.OneToOneField(
        Accrual, null=True, on_delete=models.SET_NULL, related_name="settlement_line"
    )
    source_ref = models.CharField(max_length=300)
    explanation = models.CharField(max_length=500)
    amount = amount_field()
    currency = currency_field()
    refers_to = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="clawed_back_by"
    )
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["settlement", "id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.source_ref}: {self.amount} {self.currency}"
