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
)
from billing.models import (
    AwaitedKind,
    CreditNote,
    CreditNoteLine,
    FinanceEvent,
    Invoice,
    InvoiceLine,
    Subscription,
    WriteOff,
)
from billing.schema import Envelope
from config.history import stamp

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


@register("invoice.issued")
def invoice_issued(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Create the invoice with its lines and totals for a known customer (and subscription)."""
    data = envelope.data
    scope = {"entity": envelope.entity, "customer": data["customer_id"]}
    taken = Invoice.objects.filter(invoice_id=data["invoice_id"])
    customer = customer_with_entity(
        data["customer_id"],
        invoice_taken=Exists(taken),
        invoice_awaited=awaited(AwaitedKind.INVOICE, data["invoice_id"]),
    )
    entity = entity_of(envelope, customer, scope=scope)
    if customer is None:
        raise unknown(
            QuarantineReason.UNKNOWN_CUSTOMER, "customer", data["customer_id"], scope=scope
        )
    subscription = None
    if data["subscription_id"] is not None:
        subscription = Subscription.objects.filter(subscription_id=data["subscription_id"]).first()
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
    if customer.invoice_taken:
        raise duplicate_record("invoice", data["invoice_id"], scope=scope)
    invoice = Invoice(
        invoice_id=data["invoice_id"],
        entity=entity,
        customer=customer,
        subscription=subscription,
        issue_date=data["issue_date"],
        due_date=data["due_date"],
        currency=data["currency"],
        subtotal_amount=data["subtotal"],
        tax_amount=data["tax_total"],
        total_amount=data["total"],
        event=event,
    )
    stamp(invoice, actor=actor, reason=history_reason(event))
    invoice.save()
    InvoiceLine.objects.bulk_create(
        [InvoiceLine(invoice=invoice, **_line_values(line)) for line in data["lines"]]
    )
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
