"""`python manage.py seed_demo`: a realistic demo company, built through the public ingestion.

Everything except the legal entities (reference data without an event type) and the demo
people is sent as canonical events through `billing.services.events_ingest_batch`, exactly as
a billing platform would send them, so the demo holds what the product would hold: the event
log, the records, the ERP sync jobs, partner accruals and the exception cases.

Deterministic and idempotent: the data comes from `random.Random(42)` and a date anchor that
is fixed on the first run (read back from the first stored demo event afterwards), so event
ids and bodies are stable and a second run answers every event as a duplicate (200) and
creates nothing twice.
"""

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from billing.models import FinanceEvent, LegalEntity
from billing.services import events_ingest_batch
from config.history import stamp
from config.money import quantize

SOURCE = "billing-platform"
METERING_SOURCE = "usage-metering"
FIRST_EVENT_ID = "cus-US01-001"
PASSWORD = "concord-demo"
LOGIN_URL = "http://127.0.0.1:8000/"
BATCH_SIZE = 500
SEED = 42

# code, name, currency, country, tax code, tax rate, customers
ENTITIES = (
    ("US01", "Concord Demo Inc.", "USD", "US", "US-SALES-10", Decimal("0.10"), 100),
    ("DE01", "Concord Demo GmbH", "EUR", "DE", "DE-VAT-19", Decimal("0.19"), 60),
    ("UK01", "Concord Demo Ltd", "GBP", "GB", "UK-VAT-20", Decimal("0.20"), 50),
)
EXEMPT_TAX_CODE = "EXEMPT-0"
# Price list in USD; other currencies convert at these rates, rounded to the cent.
FX = {"USD": Decimal(1), "EUR": Decimal("0.92"), "GBP": Decimal("0.79")}
# plan_code: (product_family, interval, USD unit price, seats low, seats high)
PLANS = {
    "core-monthly": ("platform", "month", Decimal("49.00"), 3, 60),
    "core-annual": ("platform", "year", Decimal("490.00"), 5, 80),
    "analytics-monthly": ("analytics", "month", Decimal("120.00"), 1, 10),
    "support-premium-monthly": ("support", "month", Decimal("300.00"), 1, 1),
    "enterprise-annual": ("platform", "year", Decimal("12000.00"), 1, 1),
}
PLAN_WEIGHTS = (30, 25, 20, 10, 15)
USAGE_METER = ("api_calls", Decimal("0.0015"))  # (meter, USD price per call)
PAYMENT_METHODS = ("bank_transfer", "card", "sepa_debit", "ach")
REGIONS = {
    "US": ("CA", "NY", "TX", "WA", "IL", "MA", "FL", "CO"),
    "DE": ("BE", "BY", "HH", "NW", "HE"),
    "GB": ("ENG", "SCT", "WLS", "NIR"),
}
NAME_FIRST = (
    "Blue", "Northwind", "Harbor", "Summit", "Cedar", "Granite", "Silver", "Brightwater",
    "Maple", "Falcon", "Orchid", "Copper", "Lumen", "Atlas", "Juniper", "Meridian", "Kestrel",
    "Riverbend", "Alder", "Beacon", "Quarry", "Solstice", "Tidewater", "Vantage", "Willow",
)  # fmt: skip
NAME_SECOND = (
    "Analytics", "Logistics", "Health", "Robotics", "Foods", "Media", "Labs", "Energy",
    "Capital", "Systems", "Retail", "Studios", "Networks", "Freight", "Dynamics", "Works",
)  # fmt: skip
LEGAL_SUFFIX = {"US": "Inc.", "DE": "GmbH", "GB": "Ltd"}
# The demo people: username, role, what they do in the demo.
DEMO_USERS = (
    ("ops", "finance_ops", "exception queue, replays, reconciliation"),
    ("channel", "channel_manager", "partner agreements and settlements"),
    ("admin", "integration_admin", "ERP connections, mapping rules, API clients"),
    ("auditor", "auditor", "reads everything, changes nothing"),
    ("partner", "partner", "one reseller's own statements"),
)
DEMO_PARTNER_ID = "PRT-RES-US-1"
PARTNER_ROLES = {"DIST": "distributor", "RES": "reseller", "REF": "referral"}

STAMP_HOUR = {  # the hour of the day each event type is sent, so a day's events stay in order
    "customer.upserted": 1,
    "partner.upserted": 0,
    "subscription.created": 6,
    "subscription.amended": 7,
    "subscription.renewed": 7,
    "usage.recorded": 8,
    "invoice.issued": 10,
    "credit_note.issued": 12,
    "payment.settled": 14,
    "refund.issued": 16,
    "invoice.written_off": 18,
    "subscription.cancelled": 20,
}


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


class DemoCompany:
    """Generates the demo's canonical events, in time order, from one seeded Random."""

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

    # -- envelope ------------------------------------------------------------------------
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

    # -- master data ---------------------------------------------------------------------
    def company_name(self, country: str) -> str:
        first = self.rng.choice(NAME_FIRST)
        second = self.rng.choice(NAME_SECOND)
        return f"{first} {second} {LEGAL_SUFFIX[country]}"

    def build_customers(self) -> None:
        opened = self.anchor - timedelta(days=400)
        for code, _, currency, country, tax_code, rate, count in ENTITIES:
            for n in range(1, max(3, round(count * self.scale)) + 1):
                exempt = self.rng.random() < 0.1
                customer = Customer(
                    customer_id=f"CUS-{code}-{n:03d}",
                    entity=code,
                    currency=currency,
                    country=country,
                    tax_code=EXEMPT_TAX_CODE if exempt else tax_code,
                    tax_rate=Decimal(0) if exempt else rate,
                )
                self.customers.append(customer)
                data = {
                    "customer_id": customer.customer_id,
                    "name": self.company_name(country),
                    "country": country,
                    "currency": currency,
                    "region": self.rng.choice(REGIONS[country]),
                }
                if country != "US":
                    data["tax_id"] = f"{country}{self.rng.randrange(10**8, 10**9)}"
                self.emit(
                    "customer.upserted",
                    code,
                    opened,
                    data,
                    event_id=short_id("cus", customer.customer_id),
                )

    def build_partners(self) -> None:
        """3 distributors → 9 resellers → 6 referral partners, plus 4 independent referrers."""
        opened = self.anchor - timedelta(days=401)
        for code, _, currency, country, *_ in ENTITIES:
            short = "UK" if country == "GB" else country
            ids = self.partners.setdefault(country, [])
            distributor = f"PRT-DIST-{short}"
            self.partner(code, opened, distributor, "distributor", None, country, currency)
            ids.append(distributor)
            for r in range(1, 4):
                reseller = f"PRT-RES-{short}-{r}"
                self.partner(code, opened, reseller, "reseller", distributor, country, currency)
                ids.append(reseller)
                if r <= 2:
                    referral = f"PRT-REF-{short}-{r}"
                    self.partner(code, opened, referral, "referral", reseller, country, currency)
                    ids.append(referral)
        for n, (code, currency, country) in enumerate(
            (("US01", "USD", "US"), ("US01", "USD", "US"), ("DE01", "EUR", "DE"),
             ("UK01", "GBP", "GB")), start=1
        ):  # fmt: skip
            referral = f"PRT-REF-IND-{n}"
            self.partner(code, opened, referral, "referral", None, country, currency)
            self.partners[country].append(referral)

    def partner(self, entity, day, partner_id, kind, parent, country, currency) -> None:
        suffix = {"distributor": "Distribution", "reseller": "Solutions", "referral": "Advisors"}
        data = {
            "partner_id": partner_id,
            "name": f"{self.rng.choice(NAME_FIRST)} {suffix[kind]} {LEGAL_SUFFIX[country]}",
            "kind": kind,
            "country": country,
            "currency": currency,
        }
        if parent:
            data["parent_partner_id"] = parent
        self.emit("partner.upserted", entity, day, data, event_id=f"ptr-{partner_id}")

    # -- subscriptions ---------------------------------------------------------------------
    def build_subscriptions(self) -> None:
        plans = list(PLANS)
        for customer in self.customers:
            for k in range(1 + (self.rng.random() < 0.2)):
                plan_code = self.rng.choices(plans, weights=PLAN_WEIGHTS)[0]
                family, interval, usd_price, low, high = PLANS[plan_code]
                subscription = Subscription(
                    subscription_id=f"SUB-{customer.customer_id.removeprefix('CUS-')}-{k + 1}",
                    customer=customer,
                    plan_code=plan_code,
                    family=family,
                    interval=interval,
                    quantity=Decimal(self.rng.randint(low, high)),
                    unit_price=quantize(usd_price * FX[customer.currency], customer.currency),
                    start=start_day(self.anchor - timedelta(days=self.rng.randrange(0, 365))),
                )
                self.subscriptions.append(subscription)
                data = {
                    "subscription_id": subscription.subscription_id,
                    "customer_id": customer.customer_id,
                    "plan_code": plan_code,
                    "product_family": family,
                    "quantity": money_text(subscription.quantity),
                    "unit_price": money_text(subscription.unit_price),
                    "currency": customer.currency,
                    "interval": interval,
                    "start_date": subscription.start.isoformat(),
                }
                if self.rng.random() < 0.3:
                    partner_id = self.rng.choice(self.partners[customer.country])
                    data["partner_id"] = partner_id
                    data["partner_role"] = PARTNER_ROLES[partner_id.split("-")[1]]
                self.emit(
                    "subscription.created",
                    customer.entity,
                    subscription.start,
                    data,
                    event_id=short_id("sub", subscription.subscription_id),
                    correlation=f"quote-{subscription.subscription_id}",
                )
                self.lifecycle(subscription)

    def lifecycle(self, subscription: Subscription) -> None:
        """Amendments, renewals and cancellations, then the invoices of the subscription."""
        sub_id = subscription.subscription_id
        entity = subscription.customer.entity
        age = (self.anchor - subscription.start).days
        roll = self.rng.random()
        # Some monthly subscriptions end; at least one does, whatever the scale.
        if (
            subscription.interval == "month"
            and age > 120
            and (roll < 0.12 or not self.cancellations)
        ):
            self.cancellations += 1
            subscription.end = subscription.start + timedelta(days=self.rng.randrange(60, age))
            self.emit(
                "subscription.cancelled",
                entity,
                subscription.end,
                {
                    "subscription_id": sub_id,
                    "effective_date": subscription.end.isoformat(),
                    "reason": self.rng.choice(("budget cuts", "moved to competitor", "merged")),
                },
                event_id=short_id("cnl", sub_id),
            )
        elif subscription.interval == "year" and age > 300:
            term_end = add_months(subscription.start, 24)
            self.emit(
                "subscription.renewed",
                entity,
                subscription.start + timedelta(days=300),
                {"subscription_id": sub_id, "term_end": term_end.isoformat()},
                event_id=short_id("rnw", sub_id),
            )
        self.build_invoices(subscription)

    def build_invoices(self, subscription: Subscription) -> None:
        months = 12 if subscription.interval == "year" else 1
        amended_at = None
        if subscription.interval == "month":
            if self.rng.random() < 0.2:
                amended_at = self.rng.randint(2, 6)
            elif not self.amendments and (self.anchor - subscription.start).days > 90:
                amended_at = 2  # at least one amendment, whatever the scale
        k = 0
        while True:
            issue = add_months(subscription.start, k * months)
            if issue > self.anchor or (subscription.end and issue >= subscription.end):
                break
            if amended_at is not None and k == amended_at:
                self.amend(subscription, issue - timedelta(days=1))
            self.invoice(subscription, issue, k)
            k += 1
            if subscription.interval == "year":
                break

    def amend(self, subscription: Subscription, day: date) -> None:
        self.amendments += 1
        quantity = subscription.quantity + self.rng.choice((-2, -1, 1, 2, 5))
        subscription.quantity = max(Decimal(1), quantity)
        self.emit(
            "subscription.amended",
            subscription.customer.entity,
            day,
            {
                "subscription_id": subscription.subscription_id,
                "effective_date": day.isoformat(),
                "quantity": money_text(subscription.quantity),
            },
            event_id=short_id("amd", subscription.subscription_id),
        )

    # -- invoices and money ----------------------------------------------------------------
    def line(self, customer: Customer, line_id: str, description: str, family: str,
             quantity: Decimal, unit_price: Decimal) -> dict:  # fmt: skip
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

    def invoice(self, subscription: Subscription, issue: date, k: int) -> None:
        customer = subscription.customer
        invoice_id = f"INV-{subscription.subscription_id.removeprefix('SUB-')}-{k + 1:02d}"
        lines = [
            self.line(
                customer,
                "1",
                f"{subscription.plan_code} {issue:%b %Y}",
                subscription.family,
                subscription.quantity,
                subscription.unit_price,
            )
        ]
        if subscription.family == "analytics" and k > 0:
            usage = self.usage(subscription, add_months(issue, -1), issue - timedelta(days=1), k)
            lines.append(self.line(customer, "2", "API calls", "usage", *usage))
        self.emit_invoice(invoice_id, customer, issue, lines, subscription.subscription_id)

    def usage(self, subscription: Subscription, start: date, end: date, k: int):
        meter, usd_price = USAGE_METER
        quantity = Decimal(self.rng.randrange(20_000, 400_000))
        price = usd_price * FX[subscription.customer.currency]
        self.emit(
            "usage.recorded",
            subscription.customer.entity,
            end,
            {
                "usage_id": f"USE-{subscription.subscription_id.removeprefix('SUB-')}-{k:02d}",
                "subscription_id": subscription.subscription_id,
                "meter": meter,
                "quantity": money_text(quantity),
                "unit_price": money_text(price),
                "period_start": start.isoformat(),
                "period_end": end.isoformat(),
            },
            event_id=short_id("use", f"{subscription.subscription_id}-{k:02d}"),
            source=METERING_SOURCE,
        )
        return quantity, price

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

    def build_settlements(self) -> None:
        """Credit notes, payments (full, partial, across invoices), refunds, write-offs."""
        payments: list[tuple[str, Customer, Decimal, date]] = []
        by_customer: dict[str, list[Invoice]] = {}
        for invoice in sorted(self.invoices, key=lambda i: (i.issue_date, i.invoice_id)):
            by_customer.setdefault(invoice.customer.customer_id, []).append(invoice)
        write_offs = 0
        across = 0
        for customer_id in sorted(by_customer):
            invoices = by_customer[customer_id]
            pooled: list[Invoice] = []
            for invoice in invoices:
                age = (self.anchor - invoice.issue_date).days
                roll = self.rng.random()
                if roll < 0.04 and invoice.total > 0:
                    self.credit_note(invoice)
                if age < 20 or invoice.open <= 0:
                    continue  # recent: not paid yet
                if write_offs < 2 and age > 150 and (roll > 0.985 or not write_offs):
                    self.write_off(invoice, age)
                    write_offs += 1
                    continue
                if across < 8 and len(pooled) < 2 and 0.90 < roll <= 0.985:
                    pooled.append(invoice)
                    if len(pooled) == 2:
                        across += 1
                        payments.append(self.pay_across(pooled))
                    continue
                if roll > 0.97:
                    continue  # overdue and unpaid
                partial = roll < 0.10
                amount = (
                    quantize(invoice.open / 2, invoice.customer.currency)
                    if partial
                    else (invoice.open)
                )
                paid_on = min(self.anchor, invoice.issue_date + timedelta(self.rng.randint(3, 40)))
                payments.append(self.pay(invoice, amount, paid_on))
        refundable = [p for p in payments if p[2] > 50]
        for payment_id, customer, amount, paid_on in self.rng.sample(
            refundable, min(10, len(refundable))
        ):
            refund_on = min(self.anchor, paid_on + timedelta(days=7))
            refund = quantize(amount * Decimal("0.1"), customer.currency)
            self.emit(
                "refund.issued",
                customer.entity,
                refund_on,
                {
                    "refund_id": f"REF-{payment_id.removeprefix('PAY-')}",
                    "payment_id": payment_id,
                    "amount": money_text(refund),
                    "currency": customer.currency,
                    "issued_at": f"{refund_on.isoformat()}T16:00:00Z",
                },
                event_id=short_id("rfd", payment_id),
            )

    def credit_note(self, invoice: Invoice) -> None:
        customer = invoice.customer
        day = invoice.issue_date + timedelta(days=2)
        # A tenth of the invoice back, net of tax; the credit carries its share of the tax.
        net = quantize(invoice.total / 10 / (1 + customer.tax_rate), customer.currency)
        line = self.line(customer, "1", "Service credit", "platform", Decimal(1), net)
        total = Decimal(line["amount"]) + Decimal(line["tax_amount"])
        if total <= 0 or total > invoice.open:
            return
        invoice.open -= total
        self.emit(
            "credit_note.issued",
            customer.entity,
            day,
            {
                "credit_note_id": f"CN-{invoice.invoice_id.removeprefix('INV-')}",
                "invoice_id": invoice.invoice_id,
                "issue_date": day.isoformat(),
                "currency": customer.currency,
                "lines": [line],
                "total": money_text(total),
                "reason": "service outage credit",
            },
            event_id=short_id("crn", invoice.invoice_id),
        )

    def pay(self, invoice: Invoice, amount: Decimal, day: date):
        customer = invoice.customer
        payment_id = f"PAY-{invoice.invoice_id.removeprefix('INV-')}"
        invoice.open -= amount
        self.emit(
            "payment.settled",
            customer.entity,
            day,
            {
                "payment_id": payment_id,
                "customer_id": customer.customer_id,
                "invoice_id": invoice.invoice_id,
                "amount": money_text(amount),
                "currency": customer.currency,
                "received_at": f"{day.isoformat()}T14:00:00Z",
                "method": self.rng.choice(PAYMENT_METHODS),
            },
            event_id=short_id("pay", payment_id),
        )
        return payment_id, customer, amount, day

    def pay_across(self, invoices: list[Invoice]):
        """One payment without an invoice id: Concord allocates it oldest due date first."""
        customer = invoices[0].customer
        amount = sum((invoice.open for invoice in invoices), Decimal(0))
        day = min(self.anchor, invoices[-1].issue_date + timedelta(days=10))
        payment_id = f"PAY-{customer.customer_id.removeprefix('CUS-')}-LUMP-{day:%Y%m}"
        for invoice in invoices:
            invoice.open = Decimal(0)
        self.emit(
            "payment.settled",
            customer.entity,
            day,
            {
                "payment_id": payment_id,
                "customer_id": customer.customer_id,
                "amount": money_text(amount),
                "currency": customer.currency,
                "received_at": f"{day.isoformat()}T14:00:00Z",
                "method": "bank_transfer",
            },
            event_id=short_id("pay", payment_id),
        )
        return payment_id, customer, amount, day

    def write_off(self, invoice: Invoice, age: int) -> None:
        day = invoice.issue_date + timedelta(days=min(age, 120))
        self.emit(
            "invoice.written_off",
            invoice.customer.entity,
            day,
            {
                "invoice_id": invoice.invoice_id,
                "amount": money_text(invoice.open),
                "currency": invoice.customer.currency,
                "reason": "customer insolvent; uncollectible",
            },
            event_id=short_id("wof", invoice.invoice_id),
        )
        invoice.open = Decimal(0)

    def build(self) -> list[dict]:
        self.build_partners()
        self.build_customers()
        self.build_subscriptions()
        self.build_settlements()
        return self.ordered_bodies()

    # -- the problems a person must look at ------------------------------------------------
    def problem_events(self, closed_through: date) -> list[dict]:
        """Well-formed events the books cannot take: each is quarantined with an open case."""
        self.events = []
        today = self.anchor
        us = next(c for c in self.customers if c.entity == "US01" and c.tax_rate)
        de = next(c for c in self.customers if c.entity == "DE01")
        us_invoice = next(i for i in self.invoices if i.customer.entity == "US01")
        cancelled = next((s for s in self.subscriptions if s.end is not None), None)
        line = self.line(us, "1", "Consulting day", "services", Decimal(2), Decimal("950.00"))
        self.emit_invoice(
            "INV-GHOST-0001",
            Customer("CUS-US01-999", "US01", "USD", "US", us.tax_code, us.tax_rate),
            today,
            [line],
            event_id="prb-1",
        )
        self.emit(
            "usage.recorded",
            "US01",
            today,
            {
                "usage_id": "USE-GHOST-0001",
                "subscription_id": "SUB-DOES-NOT-EXIST",
                "meter": "api_calls",
                "quantity": "125000",
                "unit_price": "0.0015",
                "period_start": add_months(today, -1).isoformat(),
                "period_end": (today - timedelta(days=1)).isoformat(),
            },
            event_id="prb-2",
            source=METERING_SOURCE,
        )
        if cancelled is not None:  # (a small --scale may cancel nothing)
            self.usage_after_cancel(cancelled)
        self.emit(
            "payment.settled",
            "US01",
            today,
            {
                "payment_id": "PAY-WRONG-CURRENCY-1",
                "customer_id": us_invoice.customer.customer_id,
                "invoice_id": us_invoice.invoice_id,
                "amount": money_text(quantize(us_invoice.total * FX["EUR"], "EUR")),
                "currency": "EUR",
                "received_at": f"{today.isoformat()}T14:00:00Z",
                "method": "sepa_debit",
            },
            event_id="prb-4",
        )
        late_day = closed_through - timedelta(days=10)
        late_line = self.line(de, "1", "Onboarding package", "services", Decimal(1), Decimal(1500))
        self.emit_invoice("INV-DE01-LATE-0001", de, late_day, [late_line], event_id="prb-5")
        over = self.line(us, "1", "Goodwill credit", "platform", Decimal(1), Decimal("99999.00"))
        self.emit(
            "credit_note.issued",
            "US01",
            today,
            {
                "credit_note_id": "CN-TOO-LARGE-1",
                "invoice_id": us_invoice.invoice_id,
                "issue_date": today.isoformat(),
                "currency": "USD",
                "lines": [over],
                "total": money_text(Decimal(over["amount"]) + Decimal(over["tax_amount"])),
                "reason": "goodwill",
            },
            event_id="prb-6",
        )
        return self.ordered_bodies()

    def usage_after_cancel(self, cancelled: Subscription) -> None:
        today = self.anchor
        self.emit(
            "usage.recorded",
            cancelled.customer.entity,
            today,
            {
                "usage_id": f"USE-{cancelled.subscription_id.removeprefix('SUB-')}-LATE",
                "subscription_id": cancelled.subscription_id,
                "meter": "api_calls",
                "quantity": "5000",
                "unit_price": money_text(USAGE_METER[1] * FX[cancelled.customer.currency]),
                "period_start": add_months(today, -1).isoformat(),
                "period_end": (today - timedelta(days=1)).isoformat(),
            },
            event_id="prb-3",
            source=METERING_SOURCE,
        )


class Command(BaseCommand):
    help = "Seed a realistic demo company through the public event ingestion (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--scale",
            type=float,
            default=1.0,
            help="fraction of the customers to create (tests use a small one); default 1",
        )

    def handle(self, *args, scale: float, **options):
        started = time.monotonic()
        actor = self.loader()
        entities = self.entities(actor)
        anchor = self.anchor()
        company = DemoCompany(anchor=anchor, rng=random.Random(SEED), scale=scale)
        counts = self.ingest(company.build(), actor)
        closed_through = self.close_books(entities["DE01"], anchor, actor)
        counts.update(self.ingest(company.problem_events(closed_through), actor))
        self.people()
        self.report(counts, time.monotonic() - started, anchor)

    # -- steps -----------------------------------------------------------------------------
    def loader(self):
        """The service identity the demo's events are received from."""
        user, created = get_user_model().objects.get_or_create(
            username="demo-billing-platform",
            defaults={"first_name": "Demo", "last_name": "billing platform"},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        return user

    def entities(self, actor) -> dict[str, LegalEntity]:
        result = {}
        for code, name, currency, country, *_ in ENTITIES:
            entity = LegalEntity.objects.filter(code=code).first()
            if entity is None:
                entity = LegalEntity(code=code, name=name, currency=currency, country=country)
                stamp(entity, actor=actor, reason="seed_demo: reference data")
                entity.save()
            result[code] = entity
        return result

    def anchor(self) -> date:
        """Today on the first run; afterwards the day the first run used (stable bodies)."""
        first = FinanceEvent.objects.filter(source=SOURCE, event_id=FIRST_EVENT_ID).first()
        if first is None:
            return date.today()
        return first.event_time.date() + timedelta(days=400)

    def close_books(self, entity: LegalEntity, anchor: date, actor) -> date:
        """DE01 is closed through the end of the month before last."""
        closed_through = anchor.replace(day=1) - timedelta(days=1)
        closed_through = closed_through.replace(day=1) - timedelta(days=1)
        if entity.closed_through != closed_through:
            with transaction.atomic():
                entity = LegalEntity.objects.select_for_update().get(pk=entity.pk)
                entity.closed_through = closed_through
                stamp(entity, actor=actor, reason="seed_demo: books closed")
                entity.save(update_fields=["closed_through"])
        return closed_through

    def ingest(self, bodies: list[dict], actor) -> Counter:
        counts: Counter = Counter()
        for start in range(0, len(bodies), BATCH_SIZE):
            for result in events_ingest_batch(bodies=bodies[start : start + BATCH_SIZE],
                                              actor=actor):  # fmt: skip
                status = result["status"]
                if status == 202:
                    counts[f"new {result.get('state', 'stored')}"] += 1
                elif status == 200:
                    counts["duplicate"] += 1
                else:
                    counts[f"refused {status}"] += 1
                    self.stderr.write(f"event refused ({status}): {result}")
        return counts

    def people(self) -> None:
        User = get_user_model()
        for username, role, _ in DEMO_USERS:
            user, _ = User.objects.get_or_create(username=username)
            user.first_name = username.capitalize()
            user.partner_code = DEMO_PARTNER_ID if role == "partner" else ""
            user.set_password(PASSWORD)
            user.save()
            user.groups.add(Group.objects.get(name=role))

    def report(self, counts: Counter, seconds: float, anchor: date) -> None:
        summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
        self.stdout.write(f"seed_demo: {sum(counts.values())} events ({summary}) in {seconds:.1f}s")
        rows = [
            f"Concord demo: {LOGIN_URL}",
            f"password: {PASSWORD}   (every demo user)",
            "",
            *(f"user: {name:<9} {role:<18} {what}" for name, role, what in DEMO_USERS),
        ]
        width = max(len(row) for row in rows) + 2
        self.stdout.write("  +" + "-" * width + "+")
        for row in rows:
            self.stdout.write(f"  | {row:<{width - 1}}|")
        self.stdout.write("  +" + "-" * width + "+")
