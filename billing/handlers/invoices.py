"""Handlers of invoice documents: invoice.issued, credit_note.issued, invoice.written_off."""

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
)
from billing.models import (
    AwaitedKind,
    CreditNote,
    CreditNoteLine,
    Customer,
    FinanceEvent,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Subscription,
    WriteOff,
)
from billing.schema import Envelope
from config.history import stamp
from config.instances import build

ZERO = Decimal(0)


def _line_values(line: dict) -> dict:
    return {
        "line_id": line["line_id"],
        "description": line["description"],
        "product_family": line["product_family"],
        "quantity": line["quantity"],
        "unit_price": line["unit_price"],
        "amount": line["amount"],
        "tax_code": line["tax_code"] or "",
        "tax_amount": line["tax_amount"],
    }


def invoice_locked(envelope: Envelope, *, scope: dict) -> Invoice:
    """The invoice the event names, locked; unknown → unknown_invoice."""
    invoice_id = envelope.data["invoice_id"]
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(invoice_id=invoice_id)
        .first()
    )
    if invoice is None:
        raise unknown(QuarantineReason.UNKNOWN_INVOICE, "invoice", invoice_id, scope=scope)
    return invoice


def invoice_check(
    envelope: Envelope,
    *,
    entity: LegalEntity | None,
    customer: Customer | None,
    subscription: Subscription | None,
    invoice_taken: bool,
) -> None:
    """Raise QuarantineError when the invoice cannot be applied; pure (no queries).

    `entity` is the envelope's legal entity (None: unknown), `customer` the one the event
    names (with its currency), `subscription` the one it names (None: unknown, or none named),
    `invoice_taken` whether an invoice with its id exists. The checks run in the handler's
    order: entity, customer, subscription, closed period, currency, invoice id.
    """
    data = envelope.data
    scope = {"entity": envelope.entity, "customer": data["customer_id"]}
    if entity is None:
        raise unknown_entity(envelope.entity, scope=scope)
    if customer is None:
        raise unknown(
            QuarantineReason.UNKNOWN_CUSTOMER, "customer", data["customer_id"], scope=scope
        )
    if data["subscription_id"] is not None:
        if subscription is None:
            raise unknown(
                QuarantineReason.UNKNOWN_SUBSCRIPTION,
                "subscription",
                data["subscription_id"],
                scope=scope,
            )
        scope["partner"] = subscription.partner_code
    check_open_period(entity, data["issue_date"], scope=scope)
    check_currency(data["currency"], customer.currency, what="the customer", scope=scope)
    if invoice_taken:
        raise duplicate_record("invoice", data["invoice_id"], scope=scope)


def invoice_build(
    event: FinanceEvent,
    envelope: Envelope,
    *,
    entity_pk: int,
    customer_pk: int,
    subscription_pk: int | None,
) -> Invoice:
    """The invoice of an applicable invoice.issued event (not saved)."""
    data = envelope.data
    return build(
        Invoice,
        invoice_id=data["invoice_id"],
        entity_id=entity_pk,
        customer_id=customer_pk,
        subscription_id=subscription_pk,
        issue_date=data["issue_date"],
        due_date=data["due_date"],
        currency=data["currency"],
        subtotal_amount=data["subtotal"],
        tax_amount=data["tax_total"],
        total_amount=data["total"],
        event_id=event.pk,
    )


def invoice_lines_build(invoice: Invoice, lines: list[dict]) -> list[InvoiceLine]:
    """The lines of `invoice`, in the order the event lists them (not saved)."""
    return [build(InvoiceLine, invoice_id=invoice.pk, **_line_values(line)) for line in lines]


@register("invoice.issued")
def invoice_issued(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Create the invoice with its lines and totals for a known customer (and subscription).

    One query reads the customer with its legal entity (the envelope's, nearly always),
    whether the invoice id is taken and whether an event waits for it; the checks are
    `invoice_check`'s and the records `invoice_build`'s, which the one-event fast path
    (billing.services.fast_one) runs on its own read.
    """
    data = envelope.data
    taken = Invoice.objects.filter(invoice_id=data["invoice_id"])
    customer = customer_with_entity(
        data["customer_id"],
        invoice_taken=Exists(taken),
        invoice_awaited=awaited(AwaitedKind.INVOICE, data["invoice_id"]),
    )
    entity = entity_of(envelope, customer)
    subscription = None
    if entity is not None and customer is not None and data["subscription_id"] is not None:
        subscription = Subscription.objects.filter(subscription_id=data["subscription_id"]).first()
    invoice_check(
        envelope,
        entity=entity,
        customer=customer,
        subscription=subscription,
        invoice_taken=customer is not None and customer.invoice_taken,
    )
    invoice = invoice_build(
        event,
        envelope,
        entity_pk=entity.pk,
        customer_pk=customer.pk,
        subscription_pk=subscription.pk if subscription is not None else None,
    )
    stamp(invoice, actor=actor, reason=history_reason(event))
    invoice.save()
    InvoiceLine.objects.bulk_create(invoice_lines_build(invoice, data["lines"]))
    if customer.invoice_awaited:
        release_on_commit([(AwaitedKind.INVOICE, invoice.invoice_id)])
    return {"invoice": invoice.invoice_id}


@register("credit_note.issued")
def credit_note_issued(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Create the credit note and credit the invoice; never more than the invoice has open."""
    data = envelope.data
    scope = {"entity": envelope.entity}
    entity = entity_get(envelope.entity, scope=scope)
    invoice = invoice_locked(envelope, scope=scope)
    scope["customer"] = invoice.customer.customer_id
    check_open_period(entity, data["issue_date"], scope=scope)
    check_currency(data["currency"], invoice.currency, what=f"invoice {invoice}", scope=scope)
    if CreditNote.objects.filter(credit_note_id=data["credit_note_id"]).exists():
        raise duplicate_record("credit note", data["credit_note_id"], scope=scope)
    total = data["total"]
    if total > invoice.open_amount or invoice.state not in Invoice._OPEN:
        raise QuarantineError(
            QuarantineReason.OVER_CREDIT,
            f"credit note of {total} {data['currency']} exceeds the {invoice.open_amount} open "
            f"on invoice {invoice} ({invoice.state})",
            scope,
        )
    reason = history_reason(event)
    lines = data["lines"]
    credit_note = CreditNote(
        credit_note_id=data["credit_note_id"],
        invoice=invoice,
        entity=entity,
        issue_date=data["issue_date"],
        currency=data["currency"],
        subtotal_amount=sum((line["amount"] for line in lines), ZERO),
        tax_amount=sum((line["tax_amount"] for line in lines), ZERO),
        total_amount=total,
        reason=data["reason"],
        event=event,
    )
    stamp(credit_note, actor=actor, reason=reason)
    credit_note.save()
    CreditNoteLine.objects.bulk_create(
        [CreditNoteLine(credit_note=credit_note, **_line_values(line)) for line in lines]
    )
    invoice.credit(amount=total)
    stamp(invoice, actor=actor, reason=reason)
    invoice.save(update_fields=["state", "credited_amount"])
    return {"credit_note": credit_note.credit_note_id, "invoice": invoice.invoice_id}


@register("invoice.written_off")
def invoice_written_off(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Write off (at most) what is open on the invoice and close it; dated by the event time."""
    data = envelope.data
    scope = {"entity": envelope.entity}
    entity = entity_get(envelope.entity, scope=scope)
    invoice = invoice_locked(envelope, scope=scope)
    scope["customer"] = invoice.customer.customer_id
    check_open_period(entity, envelope.time.date(), scope=scope)
    check_currency(data["currency"], invoice.currency, what=f"invoice {invoice}", scope=scope)
    amount = data["amount"]
    if amount > invoice.open_amount or invoice.state not in Invoice._OPEN:
        raise QuarantineError(
            QuarantineReason.OVER_WRITE_OFF,
            f"write-off of {amount} {data['currency']} exceeds the {invoice.open_amount} open "
            f"on invoice {invoice} ({invoice.state})",
            scope,
        )
    reason = history_reason(event)
    write_off = WriteOff(
        invoice=invoice,
        amount=amount,
        currency=data["currency"],
        reason=data["reason"],
        event=event,
    )
    stamp(write_off, actor=actor, reason=reason)
    write_off.save()
    invoice.write_off(amount=amount)
    stamp(invoice, actor=actor, reason=reason)
    invoice.save(update_fields=["state", "written_off_amount"])
    return {"write_off": write_off.pk, "invoice": invoice.invoice_id}
