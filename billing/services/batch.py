"""Batch ingest: up to settings.CONCORD_EVENT_BATCH_MAX events, each answered on its own.

Same answers and records as calling `event_ingest` once per item in order, but set-based:

1. every item is validated in Python (a malformed one answers 400 with its field paths
   prefixed "events[i].", and is not stored);
2. reads, before the transaction (`_Batch.prepare`): one query finds which (source, id) are
   already stored; those, and repeats inside the batch, answer 200 (same digest, the stored
   result) or 409 (different body). The references of usage.recorded, invoice.issued and
   payment.settled items (entities, customers, subscriptions, usage/invoice/payment ids, the
   invoices payments settle) are loaded in a few queries and each item is checked in
   Python, in batch order. Applicable ones take the fast path; anything unusual (unknown
   reference, duplicate record id, closed period, a key an earlier per-item event of the
   batch may change) takes the per-item path, which applies or quarantines it with its case;
3. the transaction, side by side with other batches. The claim: EVERY new event of
   the batch (fast ones already applied with their result, per-item ones `received`) is
   inserted in ONE statement in (source, id) order, `INSERT ... ON CONFLICT DO NOTHING
   RETURNING` (from one JSON parameter on PostgreSQL), with its history row. An event
   another transaction stored first is not returned and answers as a duplicate, so a
   concurrent writer never makes an event stored twice; and since a batch takes all its
   event-key locks in one ordered statement before any other write, two batches carrying
   copies of each other's events cannot deadlock;
4. the fast records are written set-based (usage records, invoices with lines, payments with
   allocations and the invoices they settle, locked in pk order and re-checked, with the
   history rows of each but usage's), then the per-item events are applied in batch order,
   each in a savepoint (billing.services.events.event_apply). Applying the fast ones first
   gives the same result because step 2 sends per item anything an earlier per-item event
   touches.

A deadlock or serialization failure still possible with other writers (PostgreSQL
40P01/40001) redoes the whole batch (reads and transaction), up to BATCH_RETRIES times with a short
jittered sleep; a record id that raced in from another transaction redoes it per item.
One `event_applied` signal carries all the events the batch applied, after the commit.
"""

import copy
import logging
import random
import time
from dataclasses import dataclass
from decimal import Decimal
from functools import partial

import orjson
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing.errors import BillingError, QuarantineError
from billing.handlers.common import check_currency, check_open_period, history_reason
from billing.handlers.payments import allocation_plan
from billing.handlers.subscriptions import usage_build, usage_check
from billing.models import (
    Customer,
    FinanceEvent,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Payment,
    PaymentAllocation,
    Subscription,
    UsageRecord,
)
from billing.schema import Envelope, EventSchemaError, canonical_digest, validate_event
from billing.services import bulk_write
from billing.services.events import (
    STATUS_ACCEPTED,
    STATUS_CONFLICT,
    STATUS_DUPLICATE,
    actor_or_none,
    applied_result,
    conflict_response,
    event_apply,
    event_build,
)
from billing.signals import event_applied
from config.fsm import mark_states_saved
from config.history import history_attrs, stamp
from config.instances import build
from config.money import quantize

STATUS_INVALID = 400
_FAST_TYPES = frozenset({"usage.recorded", "invoice.issued", "payment.settled"})
# PostgreSQL deadlock_detected and serialization_failure: the whole batch is safe to redo.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
BATCH_RETRIES = 3

logger = logging.getLogger(__name__)

Key = tuple[str, str]


@dataclass(slots=True)
class _Item:
    index: int
    body: dict
    envelope: Envelope
    digest: str

    @property
    def key(self) -> Key:
        return (self.envelope.source, self.envelope.id)


def _check_size(bodies) -> None:
    if not isinstance(bodies, list):
        raise BillingError(
            "events must be a list of event objects", code="invalid_type", field="events",
            status=400,
        )  # fmt: skip
    limit = settings.CONCORD_EVENT_BATCH_MAX
    if len(bodies) > limit:
        raise BillingError(
            f"a batch holds at most {limit} events, not {len(bodies)}",
            code="batch_too_large",
            field="events",
            status=400,
        )


def events_ingest_batch(*, bodies: list, actor) -> list[dict]:
    """Ingest a batch; return one result per item, in order.

    Each result is {"index", "status", ...}: 202/200 with the event's result body, 409 or
    400 with "errors". Items are all-or-nothing each; the batch commits as one transaction.
    Raises BillingError(code="batch_too_large", field="events") past the limit.
    """
    _check_size(bodies)
    results: list[dict | None] = [None] * len(bodies)
    items: list[_Item] = []
    for index, body in enumerate(bodies):
        try:
            envelope = validate_event(body, path=f"events[{index}]")
        except EventSchemaError as error:
            results[index] = {
                "index": index,
                "status": STATUS_INVALID,
                "errors": [
                    {"field": e.field, "code": e.code, "message": e.message} for e in error.errors
                ],
            }
            continue
        items.append(_Item(index, body, envelope, canonical_digest(body)))
    if not items:
        return results
    attempt = 0
    fast = True
    while True:
        # Only the 400s are known before the transaction; everything else is redone.
        attempt_results = list(results)
        try:
            batch = _Batch(results=attempt_results, actor=actor, fast=fast)
            # Reads and row building first, outside the transaction, so that it holds its
            # locks only while it writes.
            batch.prepare(items)
            with transaction.atomic():
                batch.write()
        except _FastPathRace:
            fast = False  # a record key raced in: redo the batch item by item
            continue
        except DatabaseError as error:
            attempt += 1
            if attempt > BATCH_RETRIES or not _retryable(error):
                raise
            logger.warning("batch ingest: %s; retrying the batch (retry %d)", error, attempt)
            time.sleep(random.uniform(0.005, 0.05) * attempt)
            continue
        return attempt_results


def _retryable(error: DatabaseError) -> bool:
    """A deadlock or serialization failure: PostgreSQL rolled the work back, redo it.

    Django wraps the driver's error (psycopg's errors.DeadlockDetected / SerializationFailure)
    in its own OperationalError / DatabaseError; the driver's error is the `__cause__`.
    """
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return sqlstate in _RETRYABLE_SQLSTATES


def _stored(keys: list[Key]) -> dict[Key, tuple[str, dict]]:
    """(digest, result) of the stored events among `keys`, in one query."""
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        # Two array parameters instead of a thousand, bound server-side (sent binary).
        rows = bulk_write.select_bound(
            "SELECT e.source, e.event_id, e.body_digest, e.result "
            "FROM billing_financeevent e JOIN unnest(%s::text[], %s::text[]) AS k(source, id) "
            "ON e.source = k.source AND e.event_id = k.id",
            [[source for source, _ in keys], [event_id for _, event_id in keys]],
        )
    else:
        by_source: dict[str, list[str]] = {}
        for source, event_id in keys:
            by_source.setdefault(source, []).append(event_id)
        condition = Q()
        for source, event_ids in by_source.items():
            condition |= Q(source=source, event_id__in=event_ids)
        rows = FinanceEvent.objects.filter(condition).values_list(
            "source", "event_id", "body_digest", "result"
        )
    # Django's PostgreSQL backend loads jsonb as text (JSONField parses it): parse it here.
    return {
        (source, event_id): (digest, orjson.loads(result) if isinstance(result, str) else result)
        for source, event_id, digest, result in rows
    }


def _send_all_applied(events: list[FinanceEvent]) -> None:
    if events:
        event_applied.send(sender=FinanceEvent, events=events)


class _FastPathRace(Exception):
    """A record key (usage id, invoice id) raced in from another transaction: redo per item."""


@dataclass(frozen=True, slots=True)
class _CustomerRef:
    customer_id: str


@dataclass(frozen=True, slots=True)
class _SubscriptionRef:
    """What the fast path reads of a subscription (usage_check, usage_build, invoice FK)."""

    pk: int
    subscription_id: str
    state: str
    currency: str
    partner_code: str
    customer: _CustomerRef


@dataclass(slots=True)
class _Planned:
    item: _Item
    event: FinanceEvent
    # The records the fast path writes, or None: the per-item path applies the claimed event.
    fast: tuple | None


class _Batch:
    def __init__(self, *, results: list, actor, fast: bool = True) -> None:
        self.results = results
        self.actor = actor
        self.fast = fast
        # What is stored for each (source, id) once handled: (digest, result).
        self.truth: dict[Key, tuple[str, dict]] = {}
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

    # -- answers ---------------------------------------------------------------------------
    def _answer(self, item: _Item, status: int, response: dict) -> None:
        self.results[item.index] = {"index": item.index, "status": status, **response}

    def _answer_duplicate(self, item: _Item) -> None:
        digest, result = self.truth[item.key]
        if digest == item.digest:
            self._answer(item, STATUS_DUPLICATE, result)
        else:
            stored = FinanceEvent(body_digest=digest)
            source, event_id = item.key
            response = conflict_response(stored, source=source, event_id=event_id, digest=digest)
            self._answer(item, STATUS_CONFLICT, response)

    # -- the run ---------------------------------------------------------------------------
    def prepare(self, items: list[_Item]) -> None:
        """Answer what is stored already; read the references and build the new events.

        Reads only, so it may run outside the batch's transaction: under READ COMMITTED a
        read inside it would see no more. What changes meanwhile is caught by the writes (a
        key claimed first is a duplicate; a record id taken redoes the batch per item; the
        invoices a payment settles are locked and read again).
        """
        firsts: dict[Key, _Item] = {}
        self.repeats: list[_Item] = []
        for item in items:
            if item.key in firsts:
                self.repeats.append(item)
            else:
                firsts[item.key] = item
        stored = _stored(list(firsts))
        new_items = []
        for key, item in firsts.items():
            if key in stored:
                self.truth[key] = stored[key]
                self._answer_duplicate(item)
            else:
                new_items.append(item)
        self.plan = self._plan(new_items) if new_items else []

    def write(self) -> None:
        """Store the prepared events and their records; answer every item. In a transaction."""
        if self.plan:
            self._store(self.plan)
        for item in self.repeats:
            self._answer_duplicate(item)

    def _plan(self, new_items: list[_Item]) -> list[_Planned]:
        self._preload(new_items)
        now = timezone.now()
        plan = []
        for item in new_items:
            fast = self._fast_records(item) if self.fast else None
            if fast is None:
                self._touch(item)
            event = event_build(
                envelope=item.envelope, body=item.body, digest=item.digest, actor=self.actor,
                received_at=now, applied=fast is not None,
            )  # fmt: skip
            verb = "received"
            if fast is not None:
                event.result = applied_result(event, _fast_result(item.envelope, fast))
                verb = "applied"
            stamp(event, actor=self.actor, reason=f"{history_reason(event)}: {verb}")
            plan.append(_Planned(item, event, fast))
        return plan

    def _store(self, plan: list[_Planned]) -> None:
        inserted = self._claim([p.event for p in plan])
        claimed = [p for p in plan if p.item.key in inserted]
        lost = [p.item for p in plan if p.item.key not in inserted]
        if lost:
            # Another transaction stored these first (we waited for its commit).
            rows = _stored([item.key for item in lost])
            for item in lost:
                self.truth[item.key] = rows[item.key]
                self._answer_duplicate(item)
        self._settle_payments([p for p in claimed if p.fast and p.fast[0] == "payment"])
        applied = self._write_fast([p for p in claimed if p.fast is not None])
        for planned in claimed:
            if planned.fast is None:
                failure = event_apply(
                    event=planned.event, envelope=planned.item.envelope, actor=self.actor,
                    notify=False,
                )  # fmt: skip
                if failure is None:
                    applied.append(planned.event)
            event = planned.event
            self.truth[planned.item.key] = (event.body_digest, event.result)
            self._answer(planned.item, STATUS_ACCEPTED, event.result)
        # One signal for the whole unit of work, once it commits.
        transaction.on_commit(partial(_send_all_applied, applied))

    def _settle_payments(self, planned: list[_Planned]) -> None:
        """Allocate the claimed fast payments, in batch order, to their locked invoices.

        The invoices are locked in pk order after the claim (a batch never waits on invoice
        rows before it holds all its event keys) and read again under the lock, so the
        allocation is the handler's: open invoices only, oldest due date first.
        """
        if not planned:
            return
        invoices = {invoice.pk: invoice for p in planned for invoice in p.fast[2]}
        fields = ("state", "paid_amount", "credited_amount", "written_off_amount", "total_amount")
        locked = (
            Invoice.objects.select_for_update()
            .filter(pk__in=sorted(invoices))
            .order_by("pk")
            .values_list("pk", *fields)
        )
        for pk, *values in locked:
            invoice = invoices[pk]
            # Not a transition: the in-memory copy catches up with the row as locked.
            invoice.__dict__.update(zip(fields, values, strict=True))
            mark_states_saved(invoice)
        for p in planned:
            _, payment, targets = p.fast
            allocations = allocation_plan(amount=payment.amount, invoices=targets)
            payment.allocated_amount = sum((share for _, share in allocations), Decimal(0))
            # The invoice as each payment leaves it: one history row per payment, as per item.
            versions = []
            for invoice, share in allocations:
                invoice.record_payment(amount=share)
                versions.append(copy.copy(invoice))
            p.fast = ("payment", payment, allocations, versions)
            p.event.result = applied_result(p.event, _fast_result(p.item.envelope, p.fast))

    def _claim(self, events: list[FinanceEvent]) -> set[Key]:
        """Insert every new event of the batch in ONE statement, in (source, id) order.

        After this the batch never waits on another batch's event keys again, and the waits
        here are in one global order, so two batches sharing events cannot deadlock.
        """
        # With each new event's "+" history row (the event's own correlation_id column is its
        # history's), in the same statement on PostgreSQL.
        return bulk_write.insert_ignoring_conflicts(
            FinanceEvent, sorted(events, key=lambda e: (e.source, e.event_id)),
            ("source", "event_id"), with_history=True, default_user=actor_or_none(self.actor),
        )  # fmt: skip

    # -- classification (pure: preloaded rows only) -----------------------------------------
    def _preload(self, items: list[_Item]) -> None:
        envelopes = [item.envelope for item in items if item.envelope.type in _FAST_TYPES]
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
            subscription_id: _SubscriptionRef(
                pk, subscription_id, state, currency, partner_code, _CustomerRef(customer_id)
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

        Read without locks, to classify the payments: `_settle_payments` locks them after
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

    def _touch(self, item: _Item) -> None:
        """Record what a per-item event may change (see `touched_*`)."""
        kind = item.envelope.type
        data = item.envelope.data
        if kind.startswith("subscription."):
            self.touched_subscriptions.add(data["subscription_id"])
        if kind == "usage.recorded":
            self.seen_usage.add(data["usage_id"])
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

    def _fast_records(self, item: _Item) -> tuple | None:
        """What the fast path stores for an applicable item, else None (→ the per-item path)."""
        kind = item.envelope.type
        try:
            if kind == "usage.recorded":
                return self._usage_fast(item.envelope)
            if kind == "invoice.issued":
                return self._invoice_fast(item.envelope)
            if kind == "payment.settled":
                return self._payment_fast(item.envelope)
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
        scope = {"entity": envelope.entity, "customer": data["customer_id"]}
        check_open_period(entity, data["issue_date"], scope=scope)
        check_currency(data["currency"], customer.currency, what="the customer", scope=scope)
        self.seen_invoices.add(invoice_id)
        self.new_invoice_customers.add(data["customer_id"])
        return ("invoice", entity, customer, subscription)

    def _payment_fast(self, envelope: Envelope) -> tuple | None:
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
        check_open_period(entity, data["received_at"].date(), scope=scope)
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
        # The allocation is computed once the invoices are locked (see `_settle_payments`).
        return ("payment", payment, targets)

    # -- the fast writes ---------------------------------------------------------------------
    def _write_fast(self, planned: list[_Planned]) -> list[FinanceEvent]:
        """Store the records of the claimed fast events; return those events (all applied).

        Raises _FastPathRace when a usage or invoice id was stored by another transaction
        since the preload (the batch is then redone item by item).
        """
        actor = self.actor
        user = actor_or_none(actor)
        attrs = history_attrs()
        usages, invoices, lines = [], [], []
        payments, allocations, invoice_versions, paid = [], [], [], {}
        for p in planned:
            event, envelope = p.event, p.item.envelope
            if p.fast[0] == "usage":
                # No history: a usage record is never changed; its event is its audit trail.
                usages.append(usage_build(event, envelope, p.fast[1]))
                continue
            reason = history_reason(event)
            if p.fast[0] == "invoice":
                _, entity, customer, subscription = p.fast
                invoice = _invoice_build(
                    event, envelope, entity=entity, customer=customer, subscription=subscription
                )
                stamp(invoice, actor=actor, reason=reason)
                invoices.append((invoice, envelope.data["lines"]))
            else:
                _, payment, planned_allocations, versions = p.fast
                payment.event = event
                stamp(payment, actor=actor, reason=reason)
                payments.append((payment, planned_allocations))
                for version in versions:
                    stamp(version, actor=actor, reason=reason)
                    invoice_versions.append(version)
                for invoice, _ in planned_allocations:
                    paid[invoice.pk] = invoice
        try:
            with transaction.atomic():
                # Unique keys in a stable order: concurrent writers lock them alike.
                usages.sort(key=lambda u: u.usage_id)
                invoices.sort(key=lambda pair: pair[0].invoice_id)
                bulk_write.insert(UsageRecord, usages)
                invoice_objs = [invoice for invoice, _ in invoices]
                bulk_write.insert(Invoice, invoice_objs)
                for invoice, invoice_lines in invoices:
                    lines.extend(_invoice_line(invoice, line) for line in invoice_lines)
                bulk_write.insert(InvoiceLine, lines)
                bulk_write.history_insert(
                    Invoice, invoice_objs, default_user=user, custom_historical_attrs=attrs
                )
                payments.sort(key=lambda pair: pair[0].payment_id)
                payment_objs = [payment for payment, _ in payments]
                bulk_write.insert(Payment, payment_objs)
                bulk_write.history_insert(
                    Payment, payment_objs, default_user=user, custom_historical_attrs=attrs
                )
                for payment, planned_allocations in payments:
                    for invoice, share in planned_allocations:
                        allocation = PaymentAllocation(
                            payment=payment, invoice=invoice, amount=share
                        )
                        stamp(allocation, actor=actor, reason=payment._change_reason)
                        allocations.append(allocation)
                bulk_write.insert(PaymentAllocation, allocations)
                bulk_write.history_insert(
                    PaymentAllocation, allocations, default_user=user, custom_historical_attrs=attrs
                )
                # The payments' results were known only once the invoices were locked.
                bulk_write.update_columns(
                    FinanceEvent, [p.event for p in planned if p.fast[0] == "payment"], ["result"]
                )
                bulk_write.update_columns(Invoice, list(paid.values()), ["state", "paid_amount"])
                bulk_write.history_insert(
                    Invoice,
                    invoice_versions,
                    default_user=user,
                    custom_historical_attrs=attrs,
                    history_type="~",
                )
        except IntegrityError as error:
            raise _FastPathRace from error
        return [p.event for p in planned]


def _fast_result(envelope: Envelope, fast: tuple) -> dict:
    """The `records` of the result the handler would give (see billing.handlers)."""
    if fast[0] == "usage":
        return {"usage": envelope.data["usage_id"], "subscription": fast[1].subscription_id}
    if fast[0] == "payment":
        if len(fast) == 3:
            return {"payment": fast[1].payment_id}  # until `_settle_payments` allocates it
        _, payment, planned, _versions = fast
        currency = payment.currency
        return {
            "payment": payment.payment_id,
            "allocations": {
                invoice.invoice_id: str(quantize(share, currency)) for invoice, share in planned
            },
            "unallocated": str(quantize(payment.unallocated_amount, currency)),
        }
    return {"invoice": envelope.data["invoice_id"]}


def _invoice_build(
    event: FinanceEvent,
    envelope: Envelope,
    *,
    entity: LegalEntity,
    customer: Customer,
    subscription: _SubscriptionRef | None,
) -> Invoice:
    """The invoice the invoice.issued handler creates (not saved)."""
    data = envelope.data
    return build(
        Invoice,
        invoice_id=data["invoice_id"],
        entity_id=entity.pk,
        customer_id=customer.pk,
        subscription_id=subscription.pk if subscription is not None else None,
        issue_date=data["issue_date"],
        due_date=data["due_date"],
        currency=data["currency"],
        subtotal_amount=data["subtotal"],
        tax_amount=data["tax_total"],
        total_amount=data["total"],
        event_id=event.pk,
    )


def _invoice_line(invoice: Invoice, line: dict) -> InvoiceLine:
    return build(
        InvoiceLine,
        invoice_id=invoice.pk,
        line_id=line["line_id"],
        description=line["description"],
        product_family=line["product_family"],
        quantity=line["quantity"],
        unit_price=line["unit_price"],
        amount=line["amount"],
        tax_code=line["tax_code"] or "",
        tax_amount=line["tax_amount"],
    )


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
