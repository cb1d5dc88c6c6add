"""Batch ingest, step 4: the records of the claimed fast events, written set-based.

Payments first (`settle_payments`): the invoices they pay are locked in pk order and read
again, and each payment is allocated by the handler's rule (`allocation_plan`) and recorded
with the Invoice FSM transition (`record_payment`), in batch order. Then `write_fast` stores
usage records, invoices with their lines, payments with their allocations, and the changed
invoices (`update_columns`, which writes a row only while it is in the state read under the
lock), each with its history rows as the per-item path writes them (usage has none).
"""

import copy
from decimal import Decimal

from django.db import IntegrityError, transaction

from billing.handlers.common import history_reason
from billing.handlers.invoices import invoice_build, invoice_lines_build
from billing.handlers.payments import allocation_plan, payment_records
from billing.handlers.subscriptions import usage_build
from billing.models import (
    FinanceEvent,
    Invoice,
    InvoiceLine,
    Payment,
    PaymentAllocation,
    UsageRecord,
)
from billing.schema import Envelope
from billing.services import bulk_write
from billing.services.batch.plan import Planned
from billing.services.events import actor_or_none, applied_result
from config.history import history_attrs, stamp


class FastPathRace(Exception):
    """A record key (usage id, invoice id) raced in from another transaction: redo per item."""


def settle_payments(planned: list[Planned]) -> None:
    """Allocate the claimed fast payments, in batch order, to their locked invoices.

    The invoices are locked in pk order after the claim (a batch never waits on invoice
    rows before it holds all its event keys) and loaded again under the lock, so the
    allocation is the handler's (open invoices only, oldest due date first) on the rows as
    they are now, and `record_payment` (the FSM transition) starts from the state locked,
    which is the state `update_columns` then checks in its WHERE clause.
    """
    if not planned:
        return
    pks = sorted({invoice.pk for p in planned for invoice in p.fast[2]})
    locked = {
        invoice.pk: invoice
        for invoice in Invoice.objects.select_for_update().filter(pk__in=pks).order_by("pk")
    }
    for p in planned:
        _, payment, targets = p.fast
        targets = [locked[invoice.pk] for invoice in targets]
        allocations = allocation_plan(amount=payment.amount, invoices=targets)
        payment.allocated_amount = sum((share for _, share in allocations), Decimal(0))
        # The invoice as each payment leaves it: one history row per payment, as per item.
        versions = []
        for invoice, share in allocations:
            invoice.record_payment(amount=share)
            versions.append(copy.copy(invoice))
        p.fast = ("payment", payment, allocations, versions)
        p.event.result = applied_result(p.event, fast_result(p.item.envelope, p.fast))


def write_fast(planned: list[Planned], actor) -> list[FinanceEvent]:
    """Store the records of the claimed fast events; return those events (all applied).

    Raises FastPathRace when a usage or invoice id was stored by another transaction
    since the preload (the batch is then redone item by item).
    """
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
            invoice = invoice_build(
                event,
                envelope,
                entity_pk=entity.pk,
                customer_pk=customer.pk,
                subscription_pk=subscription.pk if subscription is not None else None,
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
                lines.extend(invoice_lines_build(invoice, invoice_lines))
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
                    allocation = PaymentAllocation(payment=payment, invoice=invoice, amount=share)
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
        raise FastPathRace from error
    return [p.event for p in planned]


def fast_result(envelope: Envelope, fast: tuple) -> dict:
    """The `records` of the result the handler would give (see billing.handlers)."""
    if fast[0] == "usage":
        return {"usage": envelope.data["usage_id"], "subscription": fast[1].subscription_id}
    if fast[0] == "payment":
        if len(fast) == 3:
            return {"payment": fast[1].payment_id}  # until `settle_payments` allocates it
        _, payment, planned, _versions = fast
        return payment_records(payment, planned)
    return {"invoice": envelope.data["invoice_id"]}
