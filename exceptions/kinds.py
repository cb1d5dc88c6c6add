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
