"""The one-event endpoint's fast path for the commonest events: usage.recorded (85% of
ingest_single's mix), invoice.issued (10%) and payment.settled (5%).

`event_ingest_fast` stores an applicable event as `event_ingest_valid` would, in far fewer
statements (measured on ingest_single, 2026-12-07: docs/benchmarks.md; usage 7 → 2,
invoice 15 → 2):

1. one read of what the event references (for usage: the subscription with its customer's
   legal entity code, whether the usage id is taken; for an invoice: the customer with its
   legal entity, the subscription, whether the invoice id is taken or awaited), no lock: the
   slow path takes none either;
2. the handler's own checks (`usage_check`, `invoice_check`) in Python; the event built
   `received` and stamped (its "+" history row), then `FinanceEvent.apply` (django-fsm) and
   the result stamped (its "~" history row), the records built by the handler's builders
   (`usage_build`, `invoice_build`, `invoice_lines_build`);
3. one statement (`bulk_one.insert_with_history`): the event, its two history rows, the
   records and theirs; on a (source, id) another request stored first, nothing, and the
   answer is the duplicate's, as the slow path gives it.

Anything else returns None and the caller takes the slow path, which gives the answer: a
quarantine (unknown records, a cancelled subscription, a record id taken, another entity
than the customer's, a closed period, another currency), a record id that raced in meanwhile
(IntegrityError, nothing written), SQLite. The rows written are the slow path's, field for
field but ids and clock times: `tests/billing/test_event_ingest_fast_equivalence.py`.
"""

from contextlib import nullcontext
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition

from billing.awaiting import release_on_commit
from billing.errors import QuarantineError
from billing.handlers.common import history_reason
from billing.handlers.invoices import invoice_build, invoice_check, invoice_lines_build
from billing.handlers.payments import (
    allocation_targets,
    payment_build,
    payment_check,
    payment_records,
    payment_settle,
)
from billing.handlers.subscriptions import usage_build, usage_check
from billing.models import (
    AwaitedKind,
    AwaitedRecord,
    Customer,
    FinanceEvent,
    Invoice,
    LegalEntity,
    Payment,
    PaymentAllocation,
    Subscription,
    UsageRecord,
)
from billing.schema import Envelope
from billing.services import bulk_one, bulk_write
from billing.services.batch.plan import CustomerRef, SubscriptionRef
from billing.services.bulk_one import Child, Snapshot, Update
from billing.services.events import (
    STATUS_ACCEPTED,
    IngestOutcome,
    actor_or_none,
    applied_result,
    event_build,
    send_applied_on_commit,
    stored_duplicate,
)
from config.history import stamp
from config.instances import build


def _column(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@cache
def _usage_refs_sql() -> str:
    """The subscription (as SubscriptionRef), its customer's entity code and "is the usage id
    taken?", by subscription id; from the models' _meta."""
    s, c, e, u = Subscription, Customer, LegalEntity, UsageRecord
    # Names come from model metadata, never from input.
    return (
        f"SELECT s.{_column(s, 'id')}, s.{_column(s, 'subscription_id')}, "  # noqa: S608
        f"s.{_column(s, 'state')}, s.{_column(s, 'currency')}, s.{_column(s, 'partner_code')}, "
        f"c.{_column(c, 'customer_id')}, e.{_column(e, 'code')}, "
        f"EXISTS (SELECT 1 FROM {_table(u)} WHERE {_column(u, 'usage_id')} = %s) "
        f"FROM {_table(s)} s "
        f"JOIN {_table(c)} c ON c.{_column(c, 'id')} = s.{_column(s, 'customer')} "
        f"JOIN {_table(e)} e ON e.{_column(e, 'id')} = c.{_column(c, 'entity')} "
        f"WHERE s.{_column(s, 'subscription_id')} = %s"
    )


@cache
def _customer_refs_sql(record: type, key: str, with_subscription: bool) -> str:
    """The customer (pk, currency) with its legal entity (pk, code, closed_through), "is the
    `record` id (its field `key`) taken?", "does an event wait for it?" and, when asked, the
    subscription (pk, partner code; NULLs when unknown or not named), by customer id; from
    the models' _meta."""
    c, e, s, a = Customer, LegalEntity, Subscription, AwaitedRecord
    subscription = (
        f", s.{_column(s, 'id')}, s.{_column(s, 'partner_code')} " if with_subscription else " "
    )
    joined = (
        f"LEFT JOIN {_table(s)} s ON s.{_column(s, 'subscription_id')} = %(subscription)s "
        if with_subscription
        else ""
    )
    # Names come from model metadata, never from input.
    return (
        f"SELECT c.{_column(c, 'id')}, c.{_column(c, 'currency')}, "  # noqa: S608
        f"e.{_column(e, 'id')}, e.{_column(e, 'code')}, e.{_column(e, 'closed_through')}, "
        f"EXISTS (SELECT 1 FROM {_table(record)} WHERE {_column(record, key)} = %(id)s), "
        f"EXISTS (SELECT 1 FROM {_table(a)} WHERE {_column(a, 'kind')} = %(kind)s "
        f"AND {_column(a, 'record_id')} = %(id)s){subscription}"
        f"FROM {_table(c)} c "
        f"JOIN {_table(e)} e ON e.{_column(e, 'id')} = c.{_column(c, 'entity')} "
        f"{joined}WHERE c.{_column(c, 'customer_id')} = %(customer)s"
    )


def _customer_refs(envelope: Envelope, record: type, key: str, kind: str) -> tuple | None:
    """The row of `_customer_refs_sql` for the event's customer, None when unknown or when
    the envelope names another entity than the customer's (the slow path looks it up)."""
    data = envelope.data
    with_subscription = "subscription_id" in data
    params = {"id": data[key], "kind": kind, "customer": data["customer_id"]}
    if with_subscription:
        params["subscription"] = data["subscription_id"]
    rows = bulk_write.select_bound(
        _customer_refs_sql(record, key, with_subscription), params, prepare=True
    )
    if not rows or rows[0][3] != envelope.entity:
        return None
    return rows[0]


def _entity_and_customer(row: tuple, customer_id: str) -> tuple[LegalEntity, Customer]:
    customer_pk, currency, entity_pk, code, closed_through = row[:5]
    entity = build(LegalEntity, id=entity_pk, code=code, closed_through=closed_through)
    customer = build(
        Customer, id=customer_pk, customer_id=customer_id, entity_id=entity_pk, currency=currency
    )
    return entity, customer


def event_ingest_fast(
    *, envelope: Envelope, body: dict, digest: str, actor
) -> IngestOutcome | None:
    """Store and apply a validated usage.recorded, invoice.issued or payment.settled event
    in one write statement; None when it needs the slow path (`event_ingest_valid`), having
    written nothing. Same answer, rows and history as the slow path; what waited for the
    record is released and `event_applied` sent on commit, as there."""
    if connection.vendor != "postgresql":
        return None
    prepare = _PREPARE.get(envelope.type)
    if prepare is None:
        return None
    try:
        prepared = prepare(envelope, body)
        if prepared is None:
            return None
        return _store(envelope, body, digest, actor, *prepared)
    except QuarantineError:
        return None  # the slow path quarantines it and opens the case
    except (IntegrityError, ConcurrentTransition):
        return None  # a record id raced in (nothing written): the slow path's answer


def _usage(envelope: Envelope, body: dict):
    data = envelope.data
    rows = bulk_write.select_bound(
        _usage_refs_sql(), [data["usage_id"], data["subscription_id"]], prepare=True
    )
    if not rows:
        return None
    pk, subscription_id, state, currency, partner_code, customer_id, code, taken = rows[0]
    if code != envelope.entity:
        return None  # the slow path looks the envelope's entity up on its own
    subscription = SubscriptionRef(
        pk, subscription_id, state, currency, partner_code, CustomerRef(customer_id)
    )
    usage_check(envelope, entity=code, subscription=subscription, usage_exists=taken)

    def records(event: FinanceEvent, actor) -> tuple[dict, list[Child], list[Update]]:
        usage = usage_build(event, envelope, subscription)
        summary = {"usage": usage.usage_id, "subscription": subscription.subscription_id}
        return summary, [Child([usage], "event_id")], []

    return records, (), False


def _invoice(envelope: Envelope, body: dict):
    data = envelope.data
    row = _customer_refs(envelope, Invoice, "invoice_id", AwaitedKind.INVOICE.value)
    if row is None:
        return None
    entity, customer = _entity_and_customer(row, data["customer_id"])
    taken, awaited, subscription_pk, partner_code = row[5:]
    if data["subscription_id"] is not None and subscription_pk is None:
        return None  # an unknown subscription: the slow path quarantines it
    subscription = None
    if subscription_pk is not None:
        subscription = build(Subscription, id=subscription_pk, partner_code=partner_code)
    invoice_check(
        envelope, entity=entity, customer=customer, subscription=subscription, invoice_taken=taken
    )

    def records(event: FinanceEvent, actor) -> tuple[dict, list[Child], list[Update]]:
        invoice = invoice_build(
            event,
            envelope,
            entity_pk=entity.pk,
            customer_pk=customer.pk,
            subscription_pk=subscription_pk,
        )
        stamp(invoice, actor=actor, reason=history_reason(event))
        lines = invoice_lines_build(invoice, data["lines"])
        version = (Snapshot(invoice), "+", timezone.now())
        child = Child([invoice], "event_id", [version], [Child(lines, "invoice_id")])
        return {"invoice": invoice.invoice_id}, [child], []

    released = [(AwaitedKind.INVOICE, data["invoice_id"])] if awaited else ()
    return records, released, False


def _payment(envelope: Envelope, body: dict):
    data = envelope.data
    row = _customer_refs(envelope, Payment, "payment_id", AwaitedKind.PAYMENT.value)
    if row is None:
        return None
    entity, customer = _entity_and_customer(row, data["customer_id"])
    taken, awaited = row[5:]
    scope = payment_check(envelope, body, entity=entity, customer=customer, payment_taken=taken)

    def records(event: FinanceEvent, actor) -> tuple[dict, list[Child], list[Update]]:
        """Inside the unit of work's transaction: the invoices locked and read again."""
        payment = payment_build(event, envelope, entity_pk=entity.pk, customer=customer)
        planned = payment_settle(payment, allocation_targets(payment, envelope, scope))
        reason = history_reason(event)
        stamp(payment, actor=actor, reason=reason)
        now = timezone.now()
        allocations, paid = [], []
        for invoice, share in planned:
            allocation = build(PaymentAllocation, invoice_id=invoice.pk, amount=share)
            stamp(allocation, actor=actor, reason=reason)
            allocations.append(Child([allocation], "payment_id", [(allocation, "+", now)]))
            stamp(invoice, actor=actor, reason=reason)
            paid.append((Snapshot(invoice), "~", now))
        payment_child = Child([payment], "event_id", [(Snapshot(payment), "+", now)], allocations)
        invoices = [invoice for invoice, _ in planned]
        update = Update(invoices, ["state", "paid_amount"], paid)
        return payment_records(payment, planned), [payment_child], [update]

    released = [(AwaitedKind.PAYMENT, data["payment_id"])] if awaited else ()
    return records, released, True


_PREPARE = {"usage.recorded": _usage, "invoice.issued": _invoice, "payment.settled": _payment}


def _store(envelope: Envelope, body: dict, digest: str, actor, records, released, locking):
    """The event `received` then applied, with the records `records(event, actor)` builds
    (and the rows it changes), in one statement: in autocommit its own transaction; when
    `records` locks rows first (`locking`), in one transaction with those locks. Then what
    waited for the records is released and `event_applied` sent, each on commit, in the slow
    path's order. Raises QuarantineError (from `records`), IntegrityError or
    ConcurrentTransition, having written nothing."""
    event = event_build(envelope=envelope, body=body, digest=digest, actor=actor)
    stamp(event, actor=actor, reason=f"{history_reason(event)}: received")
    received = (Snapshot(event), "+", timezone.now())
    event.apply_attempts += 1
    event.apply()
    # In a caller's transaction, a savepoint keeps it usable after a unique violation.
    atomic = locking or connection.in_atomic_block
    with transaction.atomic() if atomic else nullcontext():
        summary, children, updates = records(event, actor)
        event.result = applied_result(event, summary)
        stamp(event, actor=actor, reason=f"{history_reason(event)}: applied")
        versions = [received, (Snapshot(event), "~", timezone.now())]
        stored = bulk_one.insert_with_history(
            event, ("source", "event_id"), versions=versions, children=children,
            updates=updates, default_user=actor_or_none(actor),
        )  # fmt: skip
    if stored is None:
        return stored_duplicate(envelope, digest)
    release_on_commit(released)
    send_applied_on_commit(event)
    return IngestOutcome(STATUS_ACCEPTED, event, event.result)
