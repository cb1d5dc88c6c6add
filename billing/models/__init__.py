"""Billing records: the canonical event log and what the events build.

`FinanceEvent` is the append-only, replayable log of every canonical event (and the outbox
later layers consume). Applying an event creates or changes the records below in the same
transaction. Every record keeps the event that made it (`event`) for lineage, and history.
Money columns are Decimal, named `<name>_amount`, with `currency` beside them.

One module per document family; every model is importable from here
(`from billing.models import Invoice`), which is the path other apps use.
"""

from billing.models.awaiting import AwaitedKind, AwaitedRecord
from billing.models.customers import Customer, LegalEntity, Plan, Subscription, UsageRecord
from billing.models.events import DuplicateDeliveryCount, FinanceEvent
from billing.models.fields import ZERO
from billing.models.invoices import (
    CreditNote,
    CreditNoteLine,
    DocumentLine,
    ErpTracked,
    Invoice,
    InvoiceLine,
    WriteOff,
)
from billing.models.payments import Payment, PaymentAllocation, Refund

__all__ = [
    "ZERO",
    "AwaitedKind",
    "AwaitedRecord",
    "CreditNote",
    "CreditNoteLine",
    "Customer",
    "DocumentLine",
    "DuplicateDeliveryCount",
    "ErpTracked",
    "FinanceEvent",
    "Invoice",
    "InvoiceLine",
    "LegalEntity",
    "Payment",
    "PaymentAllocation",
    "Plan",
    "Refund",
    "Subscription",
    "UsageRecord",
    "WriteOff",
]
