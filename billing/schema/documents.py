"""Billing documents: invoices and credit notes, with their lines and totals.

Signs: a line's ``amount``, ``unit_price`` and ``tax_amount`` may be negative (discount
lines), its ``quantity`` is >= 0; an invoice's ``subtotal``, ``tax_total`` and ``total`` are
>= 0; a credit note's ``total`` is > 0. The totals are checked against the lines
(`billing.schema.rules`).
"""

from __future__ import annotations

from typing import Annotated, NotRequired

from pydantic import Field
from typing_extensions import TypedDict

from billing.schema.amounts import Money, MoneyNonNegative, MoneyPositive, Rate, RateNonNegative
from billing.schema.declaration import EventType, ObjectList, data_config
from billing.schema.errors import Kind
from billing.schema.fields import MAX_LINES, Code, Currency, Date, Description, Id, Reason, Short
from billing.schema.rules import (
    LINE_AMOUNT,
    equals_lines,
    ordered,
    sum_amounts,
    sum_gross,
    sum_taxes,
)


@data_config
class DocumentLine(TypedDict):
    """One line of an invoice or credit note: amount == quantity x unit_price, rounded
    half-up to the currency's minor unit."""

    line_id: Id
    """Unique within the document."""
    description: Description
    product_family: Code
    quantity: RateNonNegative
    unit_price: Rate
    amount: Money
    tax_code: NotRequired[Short | None]
    tax_amount: Money


Lines = Annotated[
    list[DocumentLine],
    Field(min_length=1, max_length=MAX_LINES),
    Kind(expected="a list of line objects", max_length=MAX_LINES),
    ObjectList(unique="line_id", rules=(LINE_AMOUNT,)),
]


@data_config
class InvoiceIssuedData(TypedDict):
    """An issued invoice: subtotal == sum of line amounts, tax_total == sum of line taxes,
    total == subtotal + tax_total, due_date on or after issue_date."""

    invoice_id: Id
    customer_id: Id
    subscription_id: NotRequired[Id | None]
    issue_date: Date
    due_date: Date
    currency: Currency
    lines: Lines
    subtotal: MoneyNonNegative
    tax_total: MoneyNonNegative
    total: MoneyNonNegative


@data_config
class CreditNoteIssuedData(TypedDict):
    """A credit note against an invoice: total == sum of line amounts and taxes."""

    credit_note_id: Id
    invoice_id: Id
    issue_date: Date
    currency: Currency
    lines: Lines
    total: MoneyPositive
    reason: Reason


_LINE = {
    "line_id": "L1",
    "description": "Platform seats, May",
    "product_family": "saas",
    "quantity": "3",
    "unit_price": "416.666",
    "amount": "1250.00",
    "tax_code": "US-CA",
    "tax_amount": "100.00",
}

EVENT_TYPES = (
    EventType(
        name="invoice.issued",
        description="An invoice issued by the billing platform, with its lines and totals.",
        data=InvoiceIssuedData,
        example={
            "invoice_id": "inv_1",
            "customer_id": "cus_1",
            "subscription_id": "sub_1",
            "issue_date": "2026-05-14",
            "due_date": "2026-06-13",
            "currency": "USD",
            "lines": [
                _LINE,
                {
                    "line_id": "L2",
                    "description": "Loyalty discount",
                    "product_family": "saas",
                    "quantity": "1",
                    "unit_price": "-50",
                    "amount": "-50.00",
                    "tax_amount": "-4.00",
                },
            ],
            "subtotal": "1200.00",
            "tax_total": "96.00",
            "total": "1296.00",
        },
        rules=(
            ordered("issue_date", "due_date", "due_before_issue"),
            equals_lines("subtotal", "subtotal_mismatch", sum_amounts, "the sum of line amounts"),
            equals_lines("tax_total", "tax_total_mismatch", sum_taxes, "the sum of line taxes"),
            equals_lines("total", "total_mismatch", sum_gross, "line amounts plus line taxes"),
        ),
    ),
    EventType(
        name="credit_note.issued",
        description="A credit note against an invoice, with its lines and total.",
        data=CreditNoteIssuedData,
        example={
            "credit_note_id": "cn_1",
            "invoice_id": "inv_1",
            "issue_date": "2026-05-20",
            "currency": "USD",
            "lines": [_LINE],
            "total": "1350.00",
            "reason": "seats returned",
        },
        rules=(equals_lines("total", "total_mismatch", sum_gross, "line amounts plus line taxes"),),
    ),
)
