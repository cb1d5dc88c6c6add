"""What the generators remember while they write the demo's events, and the event envelope."""

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from billing.demo.data import SOURCE, STAMP_HOUR
from config.money import quantize


def money_text(amount: Decimal) -> str:
    return format(amount, "f")


def start_day(day: date) -> date:
    """Subscriptions start on day 1-28 so that every month has their billing day."""
    return day.replace(day=min(day.day, 28))


def short_id(prefix: str, record_id: str) -> str:
    """A compact event id: ("inv", "INV-US01-001-1-01") → "inv-US01-001-1-01".

    Short ids keep the history reason ("event <type> <source>/<id>: ...") within its column.
    """
    return f"{prefix}-{record_id.split('-', 1)[1]}"


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    return date(day.year + month_index // 12, month_index % 12 + 1, min(day.day, 28))


@dataclass
class Customer:
    customer_id: str
    entity: str
    currency: str
    country: str
    tax_code: str
    tax_rate: Decimal


@dataclass
class Subscription:
    subscription_id: str
    customer: Customer
    plan_code: str
    family: str
    interval: str
    quantity: Decimal
    unit_price: Decimal
    start: date
    end: date | None = None  # cancellation date


@dataclass
class Invoice:
    invoice_id: str
    customer: Customer
    issue_date: date
    total: Decimal
    open: Decimal = field(default=Decimal(0))


class EventLog:
    """The state every generator shares: the seeded Random, the anchor day, what was made."""

    def __init__(self, *, anchor: date, rng: random.Random, scale: float = 1.0) -> None:
        self.anchor = anchor
        self.rng = rng
        self.scale = scale
        self.events: list[tuple[datetime, int, dict]] = []
        self.customers: list[Customer] = []
        self.partners: dict[str, list[str]] = {}  # country → partner ids
        self.subscriptions: list[Subscription] = []
        self.invoices: list[Invoice] = []
        self.cancellations = 0
        self.amendments = 0

    def emit(self, event_type: str, entity: str, day: date, data: dict, *, event_id: str,
             source: str = SOURCE, correlation: str = "") -> None:  # fmt: skip
        when = datetime(day.year, day.month, day.day, STAMP_HOUR[event_type], tzinfo=UTC)
        when += timedelta(seconds=len(self.events) % 3600)
        body = {
            "specversion": "1.0",
            "id": event_id,
            "source": source,
            "type": event_type,
            "time": when.isoformat().replace("+00:00", "Z"),
            "entity": entity,
            "data": data,
        }
        if correlation:
            body["correlationid"] = correlation
        self.events.append((when, len(self.events), body))

    def ordered_bodies(self) -> list[dict]:
        return [body for _, _, body in sorted(self.events, key=lambda e: (e[0], e[1]))]

    def line(self, customer: Customer, line_id: str, description: str, family: str,
             quantity: Decimal, unit_price: Decimal) -> dict:  # fmt: skip
        """An invoice or credit-note line: amount and tax rounded to the currency."""
        amount = quantize(quantity * unit_price, customer.currency)
        tax = quantize(amount * customer.tax_rate, customer.currency)
        return {
            "line_id": line_id,
            "description": description,
            "product_family": family,
            "quantity": money_text(quantity),
            "unit_price": money_text(unit_price),
            "amount": money_text(amount),
            "tax_code": customer.tax_code,
            "tax_amount": money_text(tax),
        }

    def emit_invoice(self, invoice_id, customer, issue, lines, subscription_id=None,
                     *, event_id=None) -> Invoice:  # fmt: skip
        subtotal = sum((Decimal(line["amount"]) for line in lines), Decimal(0))
        tax = sum((Decimal(line["tax_amount"]) for line in lines), Decimal(0))
        data = {
            "invoice_id": invoice_id,
            "customer_id": customer.customer_id,
            "issue_date": issue.isoformat(),
            "due_date": (issue + timedelta(days=30)).isoformat(),
            "currency": customer.currency,
            "lines": lines,
            "subtotal": money_text(subtotal),
            "tax_total": money_text(tax),
            "total": money_text(subtotal + tax),
        }
        if subscription_id:
            data["subscription_id"] = subscription_id
        self.emit(
            "invoice.issued",
            customer.entity,
            issue,
            data,
            event_id=event_id or short_id("inv", invoice_id),
        )
        invoice = Invoice(invoice_id, customer, issue, subtotal + tax, subtotal + tax)
        self.invoices.append(invoice)
        return invoice
