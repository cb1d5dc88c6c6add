"""Handlers of money movements: payment.settled (with allocation) and refund.issued."""

from decimal import Decimal

from django.db.models import Exists

from billing.awaiting import awaited, release_on_commit
from billing.choices import QuarantineReason
from billing.errors import QuarantineError
from billing.handlers import register
from billing.handlers.common import (
    check_currency,
    check_open_period,
    customer_with_entity,
    duplicate_record,
    entity_get,
    entity_of,
    history_reason,
    unknown,
    unknown_entity,
    written_date,
)
from billing.handlers.invoices import invoice_locked
from billing.models import (
    AwaitedKind,
    Customer,
    FinanceEvent,
    Invoice,
    LegalEntity,
    Payment,
    PaymentAllocation,
    Refund,
)
from billing.schema import Envelope
from config.history import stamp
from config.instances import build
from config.money import quantize


def allocation_plan(*, amount: Decimal, invoices: list[Invoice]) -> list[tuple[Invoice, Decimal]]:
    """How much of `amount` goes to each of `invoices` (already in the order they are paid).

    Pure: reads each invoice's state and open amount, changes nothing. Invoices that are not
    open are passed over; each open one takes min(what is left, its open amount) until the
    amount is used up. The amount allocated is the sum of the shares; the rest is unallocated.
    Both the handler and the batch path book money through this one rule.
    """
    remaining = amount
    plan: list[tuple[Invoice, Decimal]] = []
    for invoice in invoices:
        if remaining <= 0:
            break
        if invoice.state not in Invoice._OPEN:
            continue
        share = min(remaining, invoice.open_amount)
        if share > 0:
            plan.append((invoice, share))
            remaining -= share
    return plan


def allocation_targets(payment: Payment, envelope: Envelope, scope: dict) -> list[Invoice]:
    """The invoices the payment pays, locked, in the order it pays them.

    With an invoice_id: that invoice (same customer and currency, else quarantine). Without:
    the customer's open invoices in the payment's currency, oldest due date first, ties by
    invoice_id, so that the same payment always settles the same invoices. `payment.customer`
    must be loaded (its pk and customer_id).
    """
    if envelope.data["invoice_id"] is not None:
        invoice = invoice_locked(envelope, scope=scope)
        if invoice.customer_id != payment.customer_id:
            raise QuarantineError(
                QuarantineReason.CONFLICT,
                f"invoice {invoice} belongs to customer {invoice.customer.customer_id!r}, not "
                f"{payment.customer.customer_id!r}",
                scope,
            )
        check_currency(payment.currency, invoice.currency, what=f"invoice {invoice}", scope=scope)
        return [invoice]
    return list(
        Invoice.objects.select_for_update()
        .filter(customer=payment.customer, currency=payment.currency, state__in=Invoice._OPEN)
        .order_by("due_date", "invoice_id")
    )


def payment_check(
    envelope: Envelope,
    body: dict,
    *,
    entity: LegalEntity | None,
    customer: Customer | None,
    payment_taken: bool,
) -> dict:
    """Raise QuarantineError when the payment cannot be recorded; pure (no queries). Returns
    the scope of a quarantine its invoices may still cause (`allocation_targets`).

    `entity` is the envelope's legal entity (None: unknown), `customer` the one the event
    names, `payment_taken` whether a payment with its id exists; checked in the handler's
    order: entity, customer, closed period, payment id.
    """
    data = envelope.data
    scope = {"entity": envelope.entity, "customer": data["customer_id"]}
    if entity is None:
        raise unknown_entity(envelope.entity, scope=scope)
    if customer is None:
        raise unknown(
            QuarantineReason.UNKNOWN_CUSTOMER, "customer", data["customer_id"], scope=scope
        )
    check_open_period(entity, written_date(body, "received_at"), scope=scope)
    if payment_taken:
        raise duplicate_record("payment", data["payment_id"], scope=scope)
    return scope


def payment_build(
    event: FinanceEvent, envelope: Envelope, *, entity_pk: int, customer: Customer
) -> Payment:
    """The payment of an applicable payment.settled event, not yet allocated (not saved)."""
    data = envelope.data
    payment = build(
        Payment,
        payment_id=data["payment_id"],
        entity_id=entity_pk,
        customer_id=customer.pk,
        amount=data["amount"],
        currency=data["currency"],
        received_at=data["received_at"],
        method=data["method"],
        event_id=event.pk,
    )
    payment.customer = customer
    return payment


def payment_settle(payment: Payment, targets: list[Invoice]) -> list[tuple[Invoice, Decimal]]:
    """Allocate `payment` to its locked `targets` by `allocation_plan` and record each share
    on its invoice (the `record_payment` transition); nothing saved. Returns the plan."""
    planned = allocation_plan(amount=payment.amount, invoices=targets)
    payment.allocated_amount = sum((share for _, share in planned), Decimal(0))
    for invoice, share in planned:
        invoice.record_payment(amount=share)
    return planned


def payment_records(payment: Payment, planned: list[tuple[Invoice, Decimal]]) -> dict:
    """The records summary of a recorded payment (the event's result)."""
    currency = payment.currency
    return {
        "payment": payment.payment_id,
        "allocations": {
            invoice.invoice_id: str(quantize(share, currency)) for invoice, share in planned
        },
        "unallocated": str(quantize(payment.unallocated_amount, currency)),
    }


@register("payment.settled")
def payment_settled(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Record the payment and allocate it to open invoices; the rest stays unallocated.

    The checks are `payment_check`'s and `allocation_targets`'s, the allocation
    `payment_settle`'s, which the one-event fast path (billing.services.fast_one) runs too.
    """
    data = envelope.data
    taken = Payment.objects.filter(payment_id=data["payment_id"])
    customer = customer_with_entity(
        data["customer_id"],
        payment_taken=Exists(taken),
        payment_awaited=awaited(AwaitedKind.PAYMENT, data["payment_id"]),
    )
    entity = entity_of(envelope, customer)
    scope = payment_check(
        envelope,
        event.body,
        entity=entity,
        customer=customer,
        payment_taken=customer is not None and customer.payment_taken,
    )
    payment = payment_build(event, envelope, entity_pk=entity.pk, customer=customer)
    targets = allocation_targets(payment, envelope, scope)
    reason = history_reason(event)
    planned = payment_settle(payment, targets)
    stamp(payment, actor=actor, reason=reason)
    payment.save()
    for invoice, share in planned:
        allocation = PaymentAllocation(payment=payment, invoice=invoice, amount=share)
        stamp(allocation, actor=actor, reason=reason)
        allocation.save()
        stamp(invoice, actor=actor, reason=reason)
        invoice.save(update_fields=["state", "paid_amount"])
    if customer.payment_awaited:
        release_on_commit([(AwaitedKind.PAYMENT, payment.payment_id)])
    return payment_records(payment, planned)


@register("refund.issued")
def refund_issued(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Record the refund against its payment; never more than what is left unrefunded."""
    data = envelope.data
    scope = {"entity": envelope.entity}
    entity = entity_get(envelope.entity, scope=scope)
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(payment_id=data["payment_id"])
        .first()
    )
    if payment is None:
        raise unknown(QuarantineReason.UNKNOWN_PAYMENT, "payment", data["payment_id"], scope=scope)
    scope["customer"] = payment.customer.customer_id
    check_open_period(entity, written_date(event.body, "issued_at"), scope=scope)
    check_currency(data["currency"], payment.currency, what=f"payment {payment}", scope=scope)
    if Refund.objects.filter(refund_id=data["refund_id"]).exists():
        raise duplicate_record("refund", data["refund_id"], scope=scope)
    unrefunded = payment.amount - payment.refunded_amount
    if data["amount"] > unrefunded:
        raise QuarantineError(
            QuarantineReason.OVER_REFUND,
            f"refund of {data['amount']} {data['currency']} exceeds the {unrefunded} not yet "
            f"refunded on payment {payment}",
            scope,
        )
    reason = history_reason(event)
    refund = Refund(
        refund_id=data["refund_id"],
        payment=payment,
        amount=data["amount"],
        currency=data["currency"],
        issued_at=data["issued_at"],
        event=event,
    )
    stamp(refund, actor=actor, reason=reason)
    refund.save()
    payment.refunded_amount += data["amount"]
    stamp(payment, actor=actor, reason=reason)
    payment.save(update_fields=["refunded_amount"])
    return {"refund": refund.refund_id, "payment": payment.payment_id}
