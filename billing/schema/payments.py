"""Money movements: payments received, refunds and write-offs (amounts > 0)."""

from __future__ import annotations

from typing import NotRequired

from typing_extensions import TypedDict

from billing.schema.amounts import MoneyPositive
from billing.schema.declaration import EventType, data_config
from billing.schema.fields import Currency, DateTime, Id, Reason, Tag


@data_config
class PaymentSettledData(TypedDict):
    """Money received from a customer, for one invoice or on account."""

    payment_id: Id
    customer_id: Id
    invoice_id: NotRequired[Id | None]
    """The invoice paid; without it the payment is allocated to the oldest open invoices."""
    amount: MoneyPositive
    currency: Currency
    received_at: DateTime
    method: Tag


@data_config
class RefundIssuedData(TypedDict):
    """Money paid back against a payment."""

    refund_id: Id
    payment_id: Id
    amount: MoneyPositive
    currency: Currency
    issued_at: DateTime


@data_config
class InvoiceWrittenOffData(TypedDict):
    """An invoice amount given up as uncollectable."""

    invoice_id: Id
    amount: MoneyPositive
    currency: Currency
    reason: Reason


EVENT_TYPES = (
    EventType(
        name="payment.settled",
        description="A payment received from a customer.",
        data=PaymentSettledData,
        example={
            "payment_id": "pay_1",
            "customer_id": "cus_1",
            "invoice_id": "inv_1",
            "amount": "1296.00",
            "currency": "USD",
            "received_at": "2026-05-20T09:30:00+02:00",
            "method": "card",
        },
    ),
    EventType(
        name="refund.issued",
        description="A refund of (part of) a payment.",
        data=RefundIssuedData,
        example={
            "refund_id": "ref_1",
            "payment_id": "pay_1",
            "amount": "100.00",
            "currency": "USD",
            "issued_at": "2026-05-21T12:00:00Z",
        },
    ),
    EventType(
        name="invoice.written_off",
        description="Writes off (part of) an invoice as uncollectable.",
        data=InvoiceWrittenOffData,
        example={
            "invoice_id": "inv_1",
            "amount": "1296.00",
            "currency": "USD",
            "reason": "customer insolvent",
        },
    ),
)
