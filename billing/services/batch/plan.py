"""Batch ingest, step 2: which new events take the fast path, on rows read once.

`Classifier` reads the references of the fast types (usage.recorded, invoice.issued,
payment.settled) in a few queries (`preload`) and checks each item in Python, in batch
order, with the handler's own checks (`fast_records`). Anything unusual returns None and
takes the per-item path; `touch` records what such a per-item event may change, so that a
later event depending on it goes per item too and applying the fast ones first changes
nothing. Reads only: no locks are taken here.
"""

from dataclasses import dataclass

from django.db import connection

from billing.errors import QuarantineError
from billing.handlers.common import check_open_period, written_date
from billing.handlers.invoices import invoice_check
from billing.handlers.subscriptions import usage_check
from billing.models import (
    Customer,
    FinanceEvent,
    Invoice,
    LegalEntity,
    Payment,
    Subscription,
    UsageRecord,
)
from billing.schema import Envelope
from billing.services import bulk_write

FAST_TYPES = frozenset({"usage.recorded", "invoice.issued", "payment.settled"})

Key = tuple[str, str]


@dataclass(slots=True)
class Item:
    index: int
    body: dict
    envelope: Envelope
    digest: str

    @property
    def key(self) -> Key:
        return (self.envelope.source, self.envelope.id)


@dataclass(frozen=True, slots=True)
class CustomerRef:
    customer_id: str


@dataclass(frozen=True, slots=True)
class SubscriptionRef:
    """What the fast path reads of a subscription (usage_check, usage_build, invoice FK)."""

    pk: int
    subscription_id: str
    state: str
    currency: str
    partner_code: str
    customer: CustomerRef


@dataclass(slots=True)
class Planned:
    item: Item
    event: FinanceEvent
    # The records the fast path writes, or None: the per-item path applies the claimed event.
    fast: tuple | None


class Classifier:
    """The rows the fast path reads, and what the batch's earlier items claimed or touched."""

    def __init__(self) -> None:
        # Keys that an earlier per-item event of the batch may change: a later event that
        # depends on them goes per item too, so applying the fast ones first changes nothing.
        self.touched_subscriptions: set[str] = set()
        self.touched_customers: set[str] = set()
        self.touched_invoices: set[str] = set()
        self.seen_usage: set[str] = set()
        self.seen_invoices: set[str] = set()
        self.seen_payments: set[str] = set()
        # Customers with an invoice the fast path adds: their payments go per item.
        self.new_invoice_customers: set[str] = set()

    def preload(self, items: list[Item]) -> None:
        """Read the references of the fast types among `items` (a few queries)."""
        envelopes = [item.envelope for item in items if item.envelope.type in FAST_TYPES]
        usage = [e for e in envelopes if e.type == "usage.recorded"]
        invoices = [e for e in envelopes if e.type == "invoice.issued"]
        payments = [e for e in envelopes if e.type == "payment.settled"]
        codes = {envelope.entity for envelope in envelopes}
        subscription_ids = {e.data.get("subscription_id") for e in envelopes}
        subscription_ids.discard(None)
        customer_ids = {e.data["customer_id"] for e in invoices + payments}
        self.entities = {e.code: e for e in LegalEntity.objects.filter(code__in=codes)}
        # Plain values, not model instances: building ~1000 instances was a tenth of a batch.
        rows = Subscription.objects.filter(subscription_id__any=subscription_ids).values_list(
            "pk", "subscription_id", "state", "currency", "partner_code", "customer__customer_id"
        )
        self.subscriptions = {
            subscription_id: SubscriptionRef(
                pk, subscription_id, state, currency, partner_code, CustomerRef(customer_id)
            )
            for pk, subscription_id, state, currency, partner_code, customer_id in rows
        }
        self.customers = (
            {c.customer_id: c for c in Customer.objects.filter(customer_id__any=customer_ids)}
            if customer_ids
            else {}
        )
        self.existing_usage = _existing_keys(
            UsageRecord, "usage_id", [e.data["usage_id"] for e in usage]
        )
        self.existing_invoices = _existing_keys(
            Invoice, "invoice_id", [e.data["invoice_id"] for e in invoices]
        )
        self.existing_payments = _existing_keys(
            Payment, "payment_id", [e.data["payment_id"] for e in payments]
        )
        self._preload_paid_invoices(payments)

    def _preload_paid_invoices(self, payments: list[Envelope]) -> None:
        """The invoices the payments may settle: named ones, and open ones of the others.

        Read without locks, to classify the payments: `writes.settle_payments` locks them after
        the claim and allocates on the values read under the lock.
        """
        named = {e.data["invoice_id"] for e in payments if e.data["invoice_id"] is not None}
        on_account = {e.data["customer_id"] for e in payments if e.data["invoice_id"] is None}
        self.invoices: dict[str, Invoice] = {}
        self.open_invoices: dict[str, list[Invoice]] = {}
        if not named and not on_account:
            return
        # Each condition on its own index (invoice_id; customer): an OR of the two, or across
        # the customer join, is planned as a read of every invoice once statistics lag.
        pks = set()
        if named:
            pks.update(Invoice.objects.filter(invoice_id__any=named).values_list("pk", flat=True))
        customer_pks = [self.customers[c].pk for c in on_account if c in self.customers]
        if customer_pks:
            pks.update(
                Invoice.objects.filter(
                    customer__pk__any=customer_pks, state__in=Invoice._OPEN
                ).values_list("pk", flat=True)
            )
        # The handler's order (oldest due date first, ties by invoice_id), by the database's
        # collation; each customer's list keeps it.
        rows = Invoice.objects.select_related("customer").filter(pk__any=sorted(pks))
        for invoice in rows.order_by("due_date", "invoice_id"):
            self.invoices[invoice.invoice_id] = invoice
            if invoice.state in Invoice._OPEN:
                customer_id = invoice.customer.customer_id
                self.open_invoices.setdefault(customer_id, []).append(invoice)

    def touch(self, item: Item) -> None:
        """Record what a per-item event may change (see `touched_*`)."""
        kind = item.envelope.type
        data = item.envelope.data
        if kind.startswith("subscription."):
            self.touched_subscriptions.add(data["subscription_id"])
        if kind == "usage.recorded":
            self.seen_usage.add(data["usage_id"])
        if kind == "payment.settled":
            # A later payment with the same id must not be stored ahead of this one.
            self.seen_payments.add(data["payment_id"])
        if kind == "customer.upserted" or (
            kind == "payment.settled" and data.get("invoice_id") is None
        ):
            # An upsert may change the currency; a payment on account settles open invoices.
            self.touched_customers.add(data["customer_id"])
        if kind == "invoice.issued":
            # If the per-item path applies it, the customer has one more open invoice.
            self.touched_customers.add(data["customer_id"])
        if data.get("invoice_id") is not None:
            self.touched_invoices.add(data["invoice_id"])

    def fast_records(self, item: Item) -> tuple | None:
        """What the fast path stores for an applicable item, else None (→ the per-item path)."""
        kind = item.envelope.type
        try:
            if kind == "usage.recorded":
                return self._usage_fast(item.envelope)
            if kind == "invoice.issued":
                return self._invoice_fast(item.envelope)
            if kind == "payment.settled":
                return self._payment_fast(item.envelope, item.body)
        except QuarantineError:
            return None  # the per-item path quarantines it and opens the case
        return None

    def _usage_fast(self, envelope: Envelope) -> tuple | None:
        data = envelope.data
        if data["subscription_id"] in self.touched_subscriptions:
            return None
        usage_id = data["usage_id"]
        subscription = self.subscriptions.get(data["subscription_id"])
        usage_check(
            envelope,
            entity=self.entities.get(envelope.entity),
            subscription=subscription,
            usage_exists=usage_id in self.existing_usage or usage_id in self.seen_usage,
        )
        self.seen_usage.add(usage_id)
        return ("usage", subscription)

    def _invoice_fast(self, envelope: Envelope) -> tuple | None:
        """The same checks as the invoice.issued handler, on preloaded rows."""
        data = envelope.data
        invoice_id = data["invoice_id"]
        customer = self.customers.get(data["customer_id"])
        entity = self.entities.get(envelope.entity)
        subscription = None
        if data["subscription_id"] is not None:
            subscription = self.subscriptions.get(data["subscription_id"])
            if subscription is None or data["subscription_id"] in self.touched_subscriptions:
                return None
        if (
            entity is None
            or customer is None
            or data["customer_id"] in self.touched_customers
            or invoice_id in self.touched_invoices
            or invoice_id in self.seen_invoices
            or invoice_id in self.existing_invoices
        ):
            return None
        invoice_check(
            envelope,
            entity=entity,
            customer=customer,
            subscription=subscription,
            invoice_taken=False,
        )
        self.seen_invoices.add(invoice_id)
        self.new_invoice_customers.add(data["customer_id"])
        return ("invoice", entity, customer, subscription)

    def _payment_fast(self, envelope: Envelope, body: dict) -> tuple | None:
        """The payment.settled handler on preloaded rows, when nothing earlier interferes.

        Only invoices stored before the batch are settled here (in memory: the FSM
        transition, written after the claim); a payment that involves an invoice the batch
        adds or an earlier per-item event changes goes per item.
        """
        data = envelope.data
        customer_id = data["customer_id"]
        payment_id = data["payment_id"]
        entity = self.entities.get(envelope.entity)
        customer = self.customers.get(customer_id)
        if (
            entity is None
            or customer is None
            or customer_id in self.touched_customers
            or (data["invoice_id"] is None and customer_id in self.new_invoice_customers)
            or payment_id in self.existing_payments
            or payment_id in self.seen_payments
        ):
            return None
        currency = data["currency"]
        scope = {"entity": envelope.entity, "customer": customer_id}
        check_open_period(entity, written_date(body, "received_at"), scope=scope)
        if data["invoice_id"] is not None:
            invoice = self.invoices.get(data["invoice_id"])
            if (
                invoice is None
                or invoice.invoice_id in self.touched_invoices
                or invoice.customer_id != customer.pk
                or invoice.currency != currency
            ):
                return None  # the per-item path decides (and quarantines)
            targets = [invoice]
        else:
            targets = [
                invoice
                for invoice in self.open_invoices.get(customer_id, [])
                if invoice.currency == currency
            ]
            if any(invoice.invoice_id in self.touched_invoices for invoice in targets):
                return None
        payment = Payment(
            payment_id=payment_id,
            entity=entity,
            customer=customer,
            amount=data["amount"],
            currency=currency,
            received_at=data["received_at"],
            method=data["method"],
        )
        self.seen_payments.add(payment_id)
        # The allocation is computed once the invoices are locked (see `writes.settle_payments`).
        return ("payment", payment, targets)


def _existing_keys(model, field: str, values: list[str]) -> set[str]:
    """Which of `values` are stored in the unique column `field` of `model` (one query)."""
    if not values:
        return set()
    if connection.vendor == "postgresql":
        qn = connection.ops.quote_name
        # Names come from model metadata, never from input.
        rows = bulk_write.select_bound(
            f"SELECT {qn(field)} FROM {qn(model._meta.db_table)} "  # noqa: S608
            f"WHERE {qn(field)} = ANY(%s::text[])",
            [values],
        )
        return {value for (value,) in rows}
    return set(model.objects.filter(**{f"{field}__in": values}).values_list(field, flat=True))
