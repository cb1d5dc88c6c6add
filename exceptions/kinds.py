"""The one vocabulary of case kinds, for every app that opens cases.

This app sits at the bottom of the layers, so it lists the kinds the apps above it raise:
billing's quarantine reasons, erp_sync's posting failures, reconciliation's breaks (prefixed
"reconciliation_") and partners' attribution problems. A test checks that each app's own
choices are in it. The console and the API offer these as the kind filter's choices.

`closed_period` is the one name of "the period is closed" (billing's quarantine, erp_sync's
held postings); `period_closed` was erp_sync's and was renamed by a data migration.
"""

from django.db import models


class CaseKind(models.TextChoices):
    # billing: an event that cannot be applied (billing.choices.QuarantineReason)
    UNKNOWN_ENTITY = "unknown_entity", "Unknown legal entity"
    UNKNOWN_CUSTOMER = "unknown_customer", "Unknown customer"
    UNKNOWN_PLAN = "unknown_plan", "Unknown plan"
    UNKNOWN_SUBSCRIPTION = "unknown_subscription", "Unknown subscription"
    UNKNOWN_INVOICE = "unknown_invoice", "Unknown invoice"
    UNKNOWN_PAYMENT = "unknown_payment", "Unknown payment"
    UNKNOWN_PARTNER = "unknown_partner", "Unknown partner"
    SUBSCRIPTION_CANCELLED = "subscription_cancelled", "Subscription cancelled"
    CLOSED_PERIOD = "closed_period", "Period closed"
    CURRENCY_MISMATCH = "currency_mismatch", "Currency mismatch"
    OVER_CREDIT = "over_credit", "Credit exceeds invoice"
    OVER_REFUND = "over_refund", "Refund exceeds payment"
    OVER_WRITE_OFF = "over_write_off", "Write-off exceeds open amount"
    DUPLICATE_RECORD = "duplicate_record", "Record already exists"
    CONFLICT = "conflict", "Conflicts with current state"
    # erp_sync: a document that cannot be built or posted
    MAPPING_MISSING = "mapping_missing", "No mapping rule"
    UNBALANCED_DOCUMENT = "unbalanced_document", "Document does not balance"
    RECORD_MISSING = "record_missing", "Billing record missing"
    INVALID_CURRENCY = "invalid_currency", "Invalid currency"
    INVALID_AMOUNT = "invalid_amount", "Invalid amount"
    INVALID_DATE = "invalid_date", "Invalid date"
    NOT_POSTABLE = "not_postable", "Nothing to post"
    NO_LINES = "no_lines", "Document without lines"
    ERP_REJECTED = "erp_rejected", "Rejected by the ERP"
    ERP_UNPARSEABLE = "erp_unparseable", "Unreadable ERP answer"
    ERP_UNAVAILABLE = "erp_unavailable", "ERP unavailable"
    ERP_ERROR = "erp_error", "ERP error"
    CIRCUIT_OPEN = "circuit_open", "ERP connection failing"
    PARENT_FAILED = "parent_failed", "Parent document failed"
    # reconciliation: a break between billing and the ERP (reconciliation.choices.BreakKind)
    RECONCILIATION_MISSING_IN_ERP = "reconciliation_missing_in_erp", "Missing in the ERP"
    RECONCILIATION_MISSING_IN_BILLING = "reconciliation_missing_in_billing", "Missing in billing"
    RECONCILIATION_AMOUNT_MISMATCH = "reconciliation_amount_mismatch", "Amounts differ"
    RECONCILIATION_CURRENCY_MISMATCH = "reconciliation_currency_mismatch", "Currencies differ"
    RECONCILIATION_TAX_MISMATCH = "reconciliation_tax_mismatch", "Tax differs"
    RECONCILIATION_DUPLICATE_IN_ERP = "reconciliation_duplicate_in_erp", "Duplicate in the ERP"
    RECONCILIATION_STATUS_MISMATCH = "reconciliation_status_mismatch", "Status differs"
    RECONCILIATION_USAGE_NOT_INVOICED = (
        "reconciliation_usage_not_invoiced",
        "Usage recorded, not invoiced",
    )
    RECONCILIATION_USAGE_NOT_RECORDED = (
        "reconciliation_usage_not_recorded",
        "Usage invoiced, not recorded",
    )
    RECONCILIATION_QUANTITY_MISMATCH = "reconciliation_quantity_mismatch", "Quantities differ"
    RECONCILIATION_ACCRUAL_NOT_SETTLED = (
        "reconciliation_accrual_not_settled",
        "Partner accrual not settled",
    )
    RECONCILIATION_SETTLED_NOT_ACCRUED = (
        "reconciliation_settled_not_accrued",
        "Partner settlement line without its accrual",
    )


def kind_label(kind: str) -> str:
    """The people's name of `kind`; the kind itself when it is not in the vocabulary."""
    try:
        return CaseKind(kind).label
    except ValueError:
        return kind


# What failed, in one sentence a finance person reads as the case page's headline.
WHAT_FAILED: dict[str, str] = {
    CaseKind.UNKNOWN_ENTITY: "A billing event names a legal entity Concord does not know",
    CaseKind.UNKNOWN_CUSTOMER: "A billing event names a customer billing does not know",
    CaseKind.UNKNOWN_PLAN: "A subscription names a plan billing does not know",
    CaseKind.UNKNOWN_SUBSCRIPTION: "A billing event names a subscription billing does not know",
    CaseKind.UNKNOWN_INVOICE: "A billing event refers to an invoice billing does not hold",
    CaseKind.UNKNOWN_PAYMENT: "A refund refers to a payment billing does not hold",
    CaseKind.UNKNOWN_PARTNER: "A subscription names a partner Concord does not know",
    CaseKind.SUBSCRIPTION_CANCELLED: "Usage arrived for a subscription that is cancelled",
    CaseKind.CLOSED_PERIOD: "Documents are dated in a period the books have closed",
    CaseKind.CURRENCY_MISMATCH: "A document's currency differs from the record it applies to",
    CaseKind.OVER_CREDIT: "A credit note is larger than what is left of its invoice",
    CaseKind.OVER_REFUND: "A refund is larger than the payment it returns",
    CaseKind.OVER_WRITE_OFF: "A write-off is larger than the invoice's open amount",
    CaseKind.DUPLICATE_RECORD: "A document arrived that billing already holds",
    CaseKind.CONFLICT: "A billing event conflicts with the record as it stands",
    CaseKind.MAPPING_MISSING: "Documents cannot be posted: no mapping rule names their accounts",
    CaseKind.UNBALANCED_DOCUMENT: "A document does not balance: its debits and credits differ",
    CaseKind.RECORD_MISSING: "A document cannot be posted: its billing record is missing",
    CaseKind.INVALID_CURRENCY: "A document carries a currency the ERP does not accept",
    CaseKind.INVALID_AMOUNT: "A document carries an amount the ERP does not accept",
    CaseKind.INVALID_DATE: "A document carries a date the ERP does not accept",
    CaseKind.NOT_POSTABLE: "An event gave nothing that can be posted to the ERP",
    CaseKind.NO_LINES: "A document has no lines to post",
    CaseKind.ERP_REJECTED: "The ERP refused a document",
    CaseKind.ERP_UNPARSEABLE: "The ERP answered something Concord cannot read",
    CaseKind.ERP_UNAVAILABLE: "The ERP could not be reached: documents were not posted",
    CaseKind.ERP_ERROR: "The ERP failed while posting a document",
    CaseKind.CIRCUIT_OPEN: "Posting to an ERP connection is paused after repeated failures",
    CaseKind.PARENT_FAILED: "A document waits for the document it depends on, which failed",
    CaseKind.RECONCILIATION_MISSING_IN_ERP: "Billing holds a document the ERP does not list",
    CaseKind.RECONCILIATION_MISSING_IN_BILLING: "The ERP lists a document billing does not hold",
    CaseKind.RECONCILIATION_AMOUNT_MISMATCH: "Billing and the ERP disagree on an amount",
    CaseKind.RECONCILIATION_CURRENCY_MISMATCH: "Billing and the ERP disagree on a currency",
    CaseKind.RECONCILIATION_TAX_MISMATCH: "Billing and the ERP disagree on the tax",
    CaseKind.RECONCILIATION_DUPLICATE_IN_ERP: "The ERP holds the same document more than once",
    CaseKind.RECONCILIATION_STATUS_MISMATCH: "Billing and the ERP disagree on a document's status",
    CaseKind.RECONCILIATION_USAGE_NOT_INVOICED: "Usage was recorded but never invoiced",
    CaseKind.RECONCILIATION_USAGE_NOT_RECORDED: "Usage was invoiced but never recorded",
    CaseKind.RECONCILIATION_QUANTITY_MISMATCH: "Recorded and invoiced usage quantities differ",
    CaseKind.RECONCILIATION_ACCRUAL_NOT_SETTLED: "A partner commission was accrued, never settled",
    CaseKind.RECONCILIATION_SETTLED_NOT_ACCRUED: "A partner was paid a commission never accrued",
}

_HELD_EVENT = (
    "The event stays quarantined: its document never reaches billing or the ledger, so "
    "receivables and revenue stay wrong until it is replayed."
)
_NOT_POSTED = (
    "This document never reaches the ledger: the ERP's receivables and revenue stay short "
    "and the month cannot close."
)
_BOOKS_DISAGREE = (
    "Billing and the ledger keep disagreeing: the month cannot be signed off as reconciled."
)

# What happens if nobody acts, in finance words (shown on the case page).
CONSEQUENCE: dict[str, str] = {
    CaseKind.UNKNOWN_ENTITY: _HELD_EVENT,
    CaseKind.UNKNOWN_CUSTOMER: _HELD_EVENT,
    CaseKind.UNKNOWN_PLAN: _HELD_EVENT,
    CaseKind.UNKNOWN_SUBSCRIPTION: _HELD_EVENT,
    CaseKind.UNKNOWN_INVOICE: _HELD_EVENT,
    CaseKind.UNKNOWN_PAYMENT: _HELD_EVENT,
    CaseKind.UNKNOWN_PARTNER: (
        "No partner earns commission on this subscription: its accruals are missing and the "
        "partner's settlement comes out short."
    ),
    CaseKind.SUBSCRIPTION_CANCELLED: (
        "The usage is never billed: revenue for it is lost unless someone decides."
    ),
    CaseKind.CLOSED_PERIOD: (
        "These documents never reach the ledger in their month; that month's revenue and "
        "receivables stay short until the period is reopened or they are posted to the next."
    ),
    CaseKind.CURRENCY_MISMATCH: _HELD_EVENT,
    CaseKind.OVER_CREDIT: _HELD_EVENT,
    CaseKind.OVER_REFUND: _HELD_EVENT,
    CaseKind.OVER_WRITE_OFF: _HELD_EVENT,
    CaseKind.DUPLICATE_RECORD: (
        "Nothing is booked twice, but if the second document was meant to differ, that "
        "difference is missing from the books."
    ),
    CaseKind.CONFLICT: _HELD_EVENT,
    CaseKind.MAPPING_MISSING: (
        "These documents never reach the ledger: receivables and revenue in the ERP stay "
        "short and the month cannot close."
    ),
    CaseKind.UNBALANCED_DOCUMENT: _NOT_POSTED,
    CaseKind.RECORD_MISSING: _NOT_POSTED,
    CaseKind.INVALID_CURRENCY: _NOT_POSTED,
    CaseKind.INVALID_AMOUNT: _NOT_POSTED,
    CaseKind.INVALID_DATE: _NOT_POSTED,
    CaseKind.NOT_POSTABLE: (
        "Nothing reaches the ledger for this event; if it should have, the books stay short."
    ),
    CaseKind.NO_LINES: _NOT_POSTED,
    CaseKind.ERP_REJECTED: _NOT_POSTED,
    CaseKind.ERP_UNPARSEABLE: (
        "Concord cannot tell whether the ERP booked this document: it stays unconfirmed and "
        "reconciliation will flag it."
    ),
    CaseKind.ERP_UNAVAILABLE: (
        "These documents wait outside the ledger: the ERP's figures stay behind billing's "
        "and the month cannot close."
    ),
    CaseKind.ERP_ERROR: _NOT_POSTED,
    CaseKind.CIRCUIT_OPEN: (
        "Every posting to this ERP waits: the ledger falls further behind billing until the "
        "connection recovers."
    ),
    CaseKind.PARENT_FAILED: (
        "The payment or credit waits for its invoice: both stay out of the ledger and the "
        "customer's balance in the ERP stays wrong."
    ),
    CaseKind.RECONCILIATION_MISSING_IN_ERP: (
        "Revenue and receivables in the ledger stay short by this document; the month cannot "
        "be signed off as reconciled."
    ),
    CaseKind.RECONCILIATION_MISSING_IN_BILLING: (
        "The ledger holds a document billing never issued: revenue may be overstated."
    ),
    CaseKind.RECONCILIATION_AMOUNT_MISMATCH: _BOOKS_DISAGREE,
    CaseKind.RECONCILIATION_CURRENCY_MISMATCH: _BOOKS_DISAGREE,
    CaseKind.RECONCILIATION_TAX_MISMATCH: (
        "The tax in the ledger differs from what was invoiced: the tax return would be wrong."
    ),
    CaseKind.RECONCILIATION_DUPLICATE_IN_ERP: (
        "The ledger counts this document twice: revenue and receivables are overstated."
    ),
    CaseKind.RECONCILIATION_STATUS_MISMATCH: (
        "The ledger shows this document as open or settled when billing does not: the "
        "customer's balance and collections are wrong."
    ),
    CaseKind.RECONCILIATION_USAGE_NOT_INVOICED: "Usage that was delivered is never billed.",
    CaseKind.RECONCILIATION_USAGE_NOT_RECORDED: (
        "Customers were billed for usage nobody recorded: a dispute or refund may follow."
    ),
    CaseKind.RECONCILIATION_QUANTITY_MISMATCH: (
        "Customers are billed for a different quantity than they used."
    ),
    CaseKind.RECONCILIATION_ACCRUAL_NOT_SETTLED: (
        "The partner is not paid commission it earned: the accrual stays on the books."
    ),
    CaseKind.RECONCILIATION_SETTLED_NOT_ACCRUED: (
        "The partner was paid commission the books cannot explain."
    ),
}

_DEFAULT_CONSEQUENCE = "The affected records stay as they are until someone acts."


def what_failed(kind: str) -> str:
    """The headline of a case of `kind`: what failed, in finance words."""
    return WHAT_FAILED.get(kind, kind_label(kind))


def consequence(kind: str) -> str:
    """What happens to the books if nobody acts on a case of `kind`."""
    return CONSEQUENCE.get(kind, _DEFAULT_CONSEQUENCE)
