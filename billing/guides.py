"""What a quarantined event's case page explains, in finance words, and the fixes it offers.

Read-only: the guide's forms post to billing's own views (replay, discard, correct). The
case is raised on the ingested event; after corrections the guide works on the latest
version (`correction_head`).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from django.urls import reverse

from billing.choices import FinanceEventState, QuarantineReason
from billing.forms import EventCorrectionForm, field_label
from billing.models import AwaitedRecord, FinanceEvent
from billing.schema import EventSchemaError, validate_event
from billing.selectors import correction_of

# What a person calls the business fact an event type records.
WHAT = {
    "customer.upserted": "customer record",
    "partner.upserted": "partner record",
    "subscription.created": "new subscription",
    "subscription.amended": "subscription change",
    "subscription.renewed": "subscription renewal",
    "subscription.cancelled": "subscription cancellation",
    "usage.recorded": "usage record",
    "invoice.issued": "invoice",
    "credit_note.issued": "credit note",
    "payment.settled": "payment",
    "refund.issued": "refund",
    "invoice.written_off": "write-off",
    "settlement.approved": "partner settlement",
    "payout.settled": "partner payout",
}
MONEY_FIELDS = {"amount", "tax_amount", "subtotal", "tax_total", "total"}
# The amount that says how much money an event of each type moves, first found wins.
HEADLINE = ("total", "amount")
# A record the event names that Concord has not received: (kind, data field of its id).
MISSING = {
    QuarantineReason.UNKNOWN_CUSTOMER: ("customer", "customer_id"),
    QuarantineReason.UNKNOWN_INVOICE: ("invoice", "invoice_id"),
    QuarantineReason.UNKNOWN_SUBSCRIPTION: ("subscription", "subscription_id"),
    QuarantineReason.UNKNOWN_PAYMENT: ("payment", "payment_id"),
    QuarantineReason.UNKNOWN_PARTNER: ("partner", "partner_id"),
    QuarantineReason.UNKNOWN_PLAN: ("plan", "plan_code"),
}


def what_of(event: FinanceEvent) -> str:
    return WHAT.get(event.type, event.type)


def explanation(event: FinanceEvent) -> str:
    """Why `event` was quarantined, in one sentence a finance person reads."""
    what, reason, data = what_of(event), event.quarantine_reason, event.data
    if reason in MISSING:
        kind, field = MISSING[reason]
        record = data.get(field) or "?"
        if field == "customer_id" or reason == QuarantineReason.UNKNOWN_PARTNER:
            return f"The {what} is for {kind} {record}, which Concord does not know yet."
        return f"The {what} refers to {kind} {record}, which Concord has not received."
    if reason == QuarantineReason.UNKNOWN_ENTITY:
        return f"The {what} is booked to legal entity {event.entity}, which is not set up."
    label = QuarantineReason(reason).label if reason in QuarantineReason.values else reason
    detail = event.quarantine_detail
    return f"The {what} cannot be recorded ({label.lower()}): {detail}."


def _cell(name: str, value, currency: str) -> dict:
    """One value with how to show it: money, number, date, datetime or text."""
    if isinstance(value, datetime):
        return {"kind": "datetime", "value": value}
    if isinstance(value, date):
        return {"kind": "date", "value": value}
    if isinstance(value, Decimal):
        kind = "money" if name in MONEY_FIELDS and currency else "number"
        return {"kind": kind, "value": value, "currency": currency}
    return {"kind": "text", "value": "—" if value in (None, "") else value}


def event_fields(event: FinanceEvent) -> dict:
    """The event's data for the page: labelled `fields`, `lines` as a table (`columns`,
    `rows`), the `currency` and `headline` amount. Values come from the schema's cleaned
    event (dates, Decimals); a body the schema no longer accepts is shown as stored."""
    try:
        data = validate_event(event.body).data
    except EventSchemaError:
        data = event.data
    currency = data.get("currency") or ""
    fields = [{"label": "Type", "cell": {"kind": "text", "value": event.type}}]
    fields.append({"label": "Legal entity", "cell": {"kind": "text", "value": event.entity}})
    lines: list[dict] = []
    for name, value in data.items():
        if isinstance(value, list):
            lines = value
            continue
        fields.append({"label": field_label(name), "cell": _cell(name, value, currency)})
    columns = list(lines[0]) if lines and isinstance(lines[0], dict) else []
    rows = [[_cell(c, line.get(c), currency) for c in columns] for line in lines]
    headline = next((data[n] for n in HEADLINE if isinstance(data.get(n), Decimal)), None)
    return {
        "fields": fields,
        "columns": [field_label(c) for c in columns],
        "rows": rows,
        "currency": currency,
        "headline": headline,
    }


def guide_context(case, subject: FinanceEvent, head: FinanceEvent, user) -> dict:
    """Everything templates/billing/guides/quarantined_event.html reads."""
    quarantined = head.state == FinanceEventState.QUARANTINED and case.is_active
    waiting = AwaitedRecord.objects.filter(event=head).first() if quarantined else None
    versions = []
    step = head
    while step is not None:
        versions.append(step)
        step = correction_of(step)
    return {
        "event": head,
        "root": subject,
        "versions": list(reversed(versions)),
        "what": what_of(head),
        "explanation": explanation(head),
        "data": event_fields(head),
        "waiting": waiting,
        "case": case,
        "next": reverse("exceptions:case-detail", args=[case.pk]),
        "quarantined": quarantined,
        "can_replay": quarantined and user.has_perm("billing.replay_financeevent"),
        "can_discard": quarantined and user.has_perm("billing.discard_financeevent"),
        "can_correct": quarantined and user.has_perm("billing.correct_financeevent"),
        "form": EventCorrectionForm(event=head)
        if quarantined and user.has_perm("billing.correct_financeevent")
        else None,
    }
