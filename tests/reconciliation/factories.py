"""Helpers of the reconciliation tests: billing records (tests/erp_sync/factories.py) and
what the sandbox ERP holds for them, written straight into its ledger so a test can alter it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from erp_sync.documents import external_id_for
from erp_sync.models import SandboxDocument
from tests.erp_sync.factories import (  # noqa: F401 (re-exported for the tests)
    ConnectionFactory,
    CustomerFactory,
    LegalEntityFactory,
    line,
    make_credit_note,
    make_invoice,
    make_payment,
)

D = Decimal
MAY_START, MAY_END = dt.date(2026, 5, 1), dt.date(2026, 5, 31)
_KIND = {"Invoice": "invoice", "CreditNote": "credit_note", "Payment": "payment"}


def _amounts(record) -> tuple[Decimal, Decimal, str]:
    if type(record).__name__ == "Payment":
        return record.amount, D(0), record.received_at.date().isoformat()
    return record.total_amount, record.tax_amount, record.issue_date.isoformat()


def _party(record) -> str:
    if type(record).__name__ == "CreditNote":
        return record.invoice.customer.customer_id
    return record.customer.customer_id


def erp_post(connection, record, *, record_number: bool = True, **changes) -> SandboxDocument:
    """What the ERP holds for billing `record` after a correct posting, altered by `changes`
    (any SandboxDocument field, e.g. total_amount, currency, external_id; `state` goes into
    the body). Records the ERP number on the billing record as erp_sync does."""
    total, tax, day = _amounts(record)
    state = changes.pop("state", "")
    values = {
        "connection": connection,
        "external_id": external_id_for(event=record.event),
        "kind": _KIND[type(record).__name__],
        "entity": connection.entity.code,
        "currency": record.currency,
        "total_amount": total,
        "tax_amount": tax,
        "document_date": dt.date.fromisoformat(day),
        "party_code": _party(record),
        "body": {"state": state} if state else {},
    }
    values.update(changes)
    document = erp_document(**values)
    if record_number:
        type(record).objects.filter(pk=record.pk).update(erp_document_number=document.number)
    return document


def erp_document(**values) -> SandboxDocument:
    """A document in the sandbox ledger, numbered as the sandbox numbers them."""
    state = values.pop("state", "")
    if state:
        values["body"] = {**values.get("body", {}), "state": state}
    values.setdefault("number", "")
    values.setdefault("tax_amount", D(0))
    document = SandboxDocument.objects.create(**values)
    if not document.number:
        document.number = f"SBX-{document.entity}-{document.pk:06d}"
        document.save(update_fields=["number"])
    return document
