"""Events waiting for a record that has not arrived yet (out-of-order webhooks)."""

from django.db import models
from django.utils import timezone

from billing.models.events import FinanceEvent


class AwaitedKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    SUBSCRIPTION = "subscription", "Subscription"
    INVOICE = "invoice", "Invoice"
    PAYMENT = "payment", "Payment"


class AwaitedRecord(models.Model):
    """An event quarantined only because the record (kind, record_id) it names is not in
    billing yet waits for it here; when an event creates that record, the waiting events are
    re-applied (billing.services.awaiting). One row per waiting event.

    The table holds only what is waiting now (rows go when the event applies, is discarded
    or waited past the window), so the lookup every record-creating event makes by its key
    (index billing_awaited_key) stays one small index probe.
    """

    kind = models.CharField(max_length=16, choices=AwaitedKind.choices)
    record_id = models.CharField(max_length=200)
    event = models.OneToOneField(FinanceEvent, on_delete=models.CASCADE, related_name="+")
    since = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["event_id"]
        indexes = [models.Index(fields=["kind", "record_id"], name="billing_awaited_key")]

    def __str__(self) -> str:
        return f"event {self.event_id} waits for {self.kind} {self.record_id}"
