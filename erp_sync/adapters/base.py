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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

DOCUMENT_KINDS = ("invoice", "credit_note", "payment", "refund", "write_off", "settlement")
# Kinds a listing may report beyond DOCUMENT_KINDS: a supplier (vendor) bill or credit the
# ERP holds (Tryton `in` invoices), and a summary entry standing for several documents.
LISTED_ONLY_KINDS = ("supplier_bill", "supplier_credit_note", "summary")
LIST_PAGE_SIZE = 1000


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
    """A document as the ERP reports it, for reconciliation.

    Amounts are positive; `kind` says which way they go (credit_note, refund...).
    `external_id` is the id Concord posted it under ("" for a document keyed in the ERP by
    hand); `reference` the source document number the ERP holds (invoice_id...) when it holds
    one; `parent_external_id` the invoice a payment / credit / write-off applies to, when the
    ERP knows it. `state` is the ERP's own word (draft, validated, posted, paid, cancelled),
    `net_total` the untaxed amount (None when the ERP does not say).
    """

    external_id: str
    kind: str
    number: str
    currency: str
    total: Decimal
    tax_total: Decimal
    document_date: dt.date
    party_code: str = ""
    state: str = ""
    net_total: Decimal | None = None
    reference: str = ""
    parent_external_id: str = ""
    accounting_date: dt.date | None = None


def listed_flat(pages: Iterable[list[ListedDocument]]) -> list[ListedDocument]:
    """Every document of `document_pages`, in one list (for small periods and tests)."""
    return [document for page in pages for document in page]


@dataclass(frozen=True)
class ChartAccount:
    """One account of an ERP's chart, as a person picks it: code, name and, where the ERP
    says, its kind (receivable, payable, revenue, expense or other; "" when unknown)."""

    code: str
    name: str
    kind: str = ""


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

    def document_pages(
        self,
        entity: str,
        period_start: dt.date,
        period_end: dt.date,
        *,
        page_size: int = LIST_PAGE_SIZE,
    ) -> Iterator[list[ListedDocument]]:
        """Every customer invoice, credit note, payment, refund, write-off, settlement and
        supplier bill of `entity` dated in [period_start, period_end], page by page (at most
        `page_size` each, in a stable order; a page is fetched only when asked for). A page
        that cannot be fetched raises ErpError from the iterator."""
        ...

    def list_documents(
        self, entity: str, period_start: dt.date, period_end: dt.date
    ) -> list[ListedDocument]:
        """`document_pages` in one list."""
        ...

    def health(self) -> Health: ...

    def missing_accounts(self, codes: set[str]) -> set[str]:
        """The account codes among `codes` that the ERP does not have."""
        ...

    def chart_of_accounts(self) -> list[ChartAccount]:
        """Every account a document may post to (open, not a view), ordered by code.
        Raises ErpError when the ERP does not answer."""
        ...
