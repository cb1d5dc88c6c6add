"""The interface every ERP adapter implements, and the document it posts.

An adapter is stateless apart from its connection settings. `post` must be idempotent on
`document.external_id`: it looks the document up first and returns the existing one
(`created=False`) instead of creating a second. Errors are classified: `RetryableError`
(timeouts, 5xx, 429, locks: try again later) or `NonRetryableError` (validation, missing
account, unparseable answer: a person must act). `PeriodClosedError` and
`ParentMissingError` are non-retryable kinds the sync engine treats specially.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

DOCUMENT_KINDS = ("invoice", "credit_note", "payment", "refund", "write_off", "settlement")


@dataclass(frozen=True)
class Party:
    code: str  # the source system's customer_id / partner_id
    name: str
    country: str
    tax_id: str = ""


@dataclass(frozen=True)
class DocumentLine:
    """A commercial line (invoice / credit note / settlement)."""

    description: str
    account: str  # revenue (or expense) account code in the ERP
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal  # quantity * unit_price, rounded to the currency; negative on credits
    tax_code: str = ""
    tax_amount: Decimal = Decimal(0)
    cost_center: str = ""
    item: str = ""


@dataclass(frozen=True)
class Posting:
    """One side of the journal entry the document amounts to."""

    account: str
    debit: Decimal = Decimal(0)
    credit: Decimal = Decimal(0)
    memo: str = ""


@dataclass(frozen=True)
class ErpDocument:
    external_id: str  # derived from the event: stable across retries and replays
    kind: str  # one of DOCUMENT_KINDS
    entity: str  # legal entity code
    currency: str
    document_date: dt.date
    party: Party
    total: Decimal  # gross amount, positive
    receivable_account: str  # receivable (customers) or payable (partners)
    reference: str = ""  # the source document number (invoice_id, payment_id, ...)
    parent_external_id: str = ""  # the invoice a payment/credit/refund/write-off applies to
    tax_total: Decimal = Decimal(0)
    lines: tuple[DocumentLine, ...] = ()
    postings: tuple[Posting, ...] = ()
    memo: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def is_balanced(self) -> bool:
        debit = sum((p.debit for p in self.postings), Decimal(0))
        credit = sum((p.credit for p in self.postings), Decimal(0))
        return bool(self.postings) and debit == credit


@dataclass(frozen=True)
class PostResult:
    erp_id: str
    number: str
    created: bool  # False when the document was already in the ERP (idempotent re-post)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ListedDocument:
    """A document as the ERP reports it, for reconciliation."""

    external_id: str
    kind: str
    number: str
    currency: str
    total: Decimal
    tax_total: Decimal
    document_date: dt.date
    party_code: str = ""


@dataclass(frozen=True)
class Health:
    ok: bool
    detail: str = ""


class ErpError(Exception):
    retryable = False
    code = "erp_error"

    def __init__(self, message: str, *, raw: Any = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.raw = raw
        self.retry_after = retry_after


class RetryableError(ErpError):
    retryable = True
    code = "erp_unavailable"


class NonRetryableError(ErpError):
    code = "erp_rejected"


class PeriodClosedError(NonRetryableError):
    code = "period_closed"


class ParentMissingError(NonRetryableError):
    code = "awaiting_parent"


class UnparseableResponseError(NonRetryableError):
    code = "erp_unparseable"


class ErpAdapter(Protocol):
    kind: str

    def find(self, external_id: str) -> PostResult | None: ...

    def post(self, document: ErpDocument, *, deadline: float | None = None) -> PostResult:
        """Create `document` unless it exists; give up (RetryableError) at `deadline`, a
        time.monotonic() value, so a call never outlives the job lease it runs under."""
        ...

    def list_documents(
        self, entity: str, period_start: dt.date, period_end: dt.date
    ) -> list[ListedDocument]: ...

    def health(self) -> Health: ...

    def missing_accounts(self, codes: set[str]) -> set[str]:
        """The account codes among `codes` that the ERP does not have."""
        ...
