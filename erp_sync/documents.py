"""What an event becomes in an ERP: its document type, its stable external id, its parent,
and the JSON form of an `ErpDocument` (stored on the sync job, sent to the sandbox).

External ids are derived from the event only — never from the connection, the attempt or the
clock — so a retry or a replay of the same event always searches the ERP for the same id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any

from erp_sync.adapters.base import DocumentLine, ErpDocument, Party, Posting

EVENT_DOCUMENT_TYPES = {
    "invoice.issued": "invoice",
    "credit_note.issued": "credit_note",
    "payment.settled": "payment",
    "refund.issued": "refund",
    "invoice.written_off": "write_off",
    "settlement.approved": "settlement",
}
# The key of the event's data holding the number a person knows the document by (a
# write-off is known by the invoice it writes off).
BUSINESS_KEYS = {
    "invoice.issued": "invoice_id",
    "credit_note.issued": "credit_note_id",
    "payment.settled": "payment_id",
    "refund.issued": "refund_id",
    "invoice.written_off": "invoice_id",
    "settlement.approved": "settlement_id",
}
# A readable prefix per document type, so an ERP user sees what the id is.
_PREFIX = {
    "invoice": "inv",
    "credit_note": "cn",
    "payment": "pay",
    "refund": "rfd",
    "write_off": "wo",
    "settlement": "stl",
}
MAX_EXTERNAL_ID_LENGTH = 64


def document_type_for(event_type: str) -> str | None:
    """The ERP document type an event of `event_type` posts, or None (nothing to post)."""
    return EVENT_DOCUMENT_TYPES.get(event_type)


def external_id_from(*, source: str, event_id: str, event_type: str) -> str:
    """`concord:<prefix>:<24 hex of sha1(source/event_id)>`: stable, ≤ 64 characters."""
    digest = hashlib.sha1(f"{source}/{event_id}".encode(), usedforsecurity=False).hexdigest()
    prefix = _PREFIX.get(document_type_for(event_type) or "", "doc")
    return f"concord:{prefix}:{digest[:24]}"


def external_id_for(*, event, connection=None) -> str:
    """The ERP-side id of the document `event` posts (the same for every connection)."""
    return external_id_from(source=event.source, event_id=event.event_id, event_type=event.type)


def parent_external_id_for(*, event, connection=None) -> str:
    """The external id of the document this one applies to, or "" when it has none.

    credit note, write-off, payment (with an invoice) → the invoice.issued event of the invoice;
    refund → the payment.settled event of the payment (a refund reverses a payment, so the
    payment must be in the ERP first). Unknown records (a preview of an event whose invoice is
    not in billing) give "".
    """
    from billing.models import Invoice, Payment

    data = event.body.get("data", {}) if isinstance(event.body, dict) else {}
    kind = document_type_for(event.type)
    if kind in ("credit_note", "write_off", "payment"):
        invoice_id = data.get("invoice_id")
        invoice = None
        if invoice_id:
            invoice = Invoice.objects.select_related("event").filter(invoice_id=invoice_id).first()
        elif kind == "payment":
            invoice = _only_allocated_invoice(data.get("payment_id"))
        return external_id_for(event=invoice.event) if invoice is not None else ""
    if kind == "refund":
        payment = (
            Payment.objects.select_related("event")
            .filter(payment_id=data.get("payment_id"))
            .first()
        )
        return external_id_for(event=payment.event) if payment is not None else ""
    return ""


def _only_allocated_invoice(payment_id: str | None):
    """A payment sent without invoice_id but allocated to exactly one invoice applies to it."""
    from billing.models import PaymentAllocation

    if not payment_id:
        return None
    allocations = list(
        PaymentAllocation.objects.select_related("invoice__event").filter(
            payment__payment_id=payment_id
        )[:2]
    )
    return allocations[0].invoice if len(allocations) == 1 else None


# ------------------------------------------------------------------------------------------
# JSON form: Decimals as strings, dates ISO; document_from_json(document_to_json(d)) == d.


def _money(value: Decimal) -> str:
    return str(value)


def document_to_json(doc: ErpDocument) -> dict[str, Any]:
    return {
        "external_id": doc.external_id,
        "kind": doc.kind,
        "entity": doc.entity,
        "currency": doc.currency,
        "document_date": doc.document_date.isoformat(),
        "party": {
            "code": doc.party.code,
            "name": doc.party.name,
            "country": doc.party.country,
            "tax_id": doc.party.tax_id,
        },
        "total": _money(doc.total),
        "receivable_account": doc.receivable_account,
        "reference": doc.reference,
        "parent_external_id": doc.parent_external_id,
        "tax_total": _money(doc.tax_total),
        "lines": [
            {
                "description": line.description,
                "account": line.account,
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "amount": _money(line.amount),
                "tax_code": line.tax_code,
                "tax_amount": _money(line.tax_amount),
                "cost_center": line.cost_center,
                "item": line.item,
            }
            for line in doc.lines
        ],
        "postings": [
            {
                "account": posting.account,
                "debit": _money(posting.debit),
                "credit": _money(posting.credit),
                "memo": posting.memo,
            }
            for posting in doc.postings
        ],
        "memo": doc.memo,
        "extra": doc.extra,
    }


def document_from_json(data: dict[str, Any]) -> ErpDocument:
    party = data.get("party") or {}
    return ErpDocument(
        external_id=data["external_id"],
        kind=data["kind"],
        entity=data["entity"],
        currency=data["currency"],
        document_date=dt.date.fromisoformat(data["document_date"]),
        party=Party(
            code=party.get("code", ""),
            name=party.get("name", ""),
            country=party.get("country", ""),
            tax_id=party.get("tax_id", ""),
        ),
        total=Decimal(data["total"]),
        receivable_account=data.get("receivable_account", ""),
        reference=data.get("reference", ""),
        parent_external_id=data.get("parent_external_id", ""),
        tax_total=Decimal(data.get("tax_total", "0")),
        lines=tuple(
            DocumentLine(
                description=line["description"],
                account=line["account"],
                quantity=Decimal(line["quantity"]),
                unit_price=Decimal(line["unit_price"]),
                amount=Decimal(line["amount"]),
                tax_code=line.get("tax_code", ""),
                tax_amount=Decimal(line.get("tax_amount", "0")),
                cost_center=line.get("cost_center", ""),
                item=line.get("item", ""),
            )
            for line in data.get("lines", [])
        ),
        postings=tuple(
            Posting(
                account=posting["account"],
                debit=Decimal(posting.get("debit", "0")),
                credit=Decimal(posting.get("credit", "0")),
                memo=posting.get("memo", ""),
            )
            for posting in data.get("postings", [])
        ),
        memo=data.get("memo", ""),
        extra=dict(data.get("extra") or {}),
    )
