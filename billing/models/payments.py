"""Money movements: payments, their allocations to invoices, refunds."""

from decimal import Decimal

from django.db import models
from django.db.models import F, Q

from billing.models.customers import Customer, LegalEntity
from billing.models.events import FinanceEvent
from billing.models.fields import amount_field, currency_field
from billing.models.invoices import ErpTracked, Invoice
from config.history import AuditedManager, ConcordHistory


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
    objects = AuditedManager()
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
    objects = AuditedManager()
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
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="billing_refund_amount_positive")
        ]

    def __str__(self) -> str:
        return self.refund_id
