"""Documents that bill and unbill: invoices and credit notes with their lines, write-offs."""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.db.models.lookups import GreaterThanOrEqual
from django.urls import reverse
from django_fsm import RETURN_VALUE, ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from billing.choices import ErpStatus, InvoiceState
from billing.models.customers import Customer, LegalEntity, Subscription
from billing.models.events import FinanceEvent
from billing.models.fields import adds_up, amount_field, currency_field, rate_field
from config.history import AuditedManager, ConcordHistory
from config.links import reverse_id
from config.money import AMOUNT_DECIMAL_PLACES


class ErpTracked(models.Model):
    """Where the record stands in the ERP; written only by erp_sync through billing services."""

    erp_status = models.CharField(
        max_length=16, choices=ErpStatus.choices, default=ErpStatus.NOT_SENT, db_index=True
    )
    erp_document_number = models.CharField(max_length=100, blank=True, default="")
    erp_document_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        abstract = True

    def get_absolute_url(self) -> str:
        """The record's page: its event's (only invoices have a page of their own)."""
        return reverse_id("billing:event-detail", self.event_id)


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
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["-issue_date", "invoice_id"]
        constraints = [
            models.CheckConstraint(
                condition=adds_up(),
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

    def get_absolute_url(self) -> str:
        return reverse("billing:invoice-detail", args=[self.invoice_id])

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
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["-issue_date", "credit_note_id"]
        constraints = [
            models.CheckConstraint(
                condition=adds_up(),
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


class WriteOff(ErpTracked):
    invoice = models.OneToOneField(
        Invoice, on_delete=models.PROTECT, related_name="write_off_record"
    )
    amount = amount_field()
    currency = currency_field()
    reason = models.CharField(max_length=300)
    event = models.ForeignKey(FinanceEvent, on_delete=models.PROTECT, related_name="+")
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="billing_writeoff_amount_positive"
            )
        ]
