"""The vocabularies of reconciliation: scopes, states, match rules and break kinds."""

from django.db import models


class RunScope(models.TextChoices):
    DOCUMENTS = "documents", "Documents (invoices, credit notes, payments)"
    USAGE = "usage", "Usage recorded vs invoiced"
    PARTNERS = "partners", "Accruals vs settlements"


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


# A run in one of these states holds its (entity, period, scope): a database constraint.
ACTIVE_RUN_STATES = (RunState.QUEUED, RunState.RUNNING)


class MatchRule(models.TextChoices):
    """Why two sides were paired, in the order the engine applies the rules."""

    EXTERNAL_ID = "external_id", "Same external id"
    DOCUMENT_NUMBER = "document_number", "Same ERP document number"
    SUMMARY_1N = "summary_1n", "One ERP summary entry covers several documents"
    SUGGESTED = "suggested", "Same party, amount and date window (needs a person)"


class MatchStatus(models.TextChoices):
    MATCHED = "matched", "Matched"
    SUGGESTED = "suggested", "Suggested"
    CONFIRMED = "confirmed", "Confirmed"
    REJECTED = "rejected", "Rejected"


# A match in one of these states pairs the two sides for break classification.
PAIRED_STATUSES = (MatchStatus.MATCHED, MatchStatus.CONFIRMED)


class BreakKind(models.TextChoices):
    MISSING_IN_ERP = "missing_in_erp", "Missing in the ERP"
    MISSING_IN_BILLING = "missing_in_billing", "Missing in billing"
    AMOUNT_MISMATCH = "amount_mismatch", "Amounts differ"
    CURRENCY_MISMATCH = "currency_mismatch", "Currencies differ"
    TAX_MISMATCH = "tax_mismatch", "Tax differs"
    DUPLICATE_IN_ERP = "duplicate_in_erp", "Duplicate in the ERP"
    STATUS_MISMATCH = "status_mismatch", "Status differs"
    # The usage scope: usage recorded vs usage invoiced per subscription and period.
    USAGE_NOT_INVOICED = "usage_not_invoiced", "Usage recorded, not invoiced"
    USAGE_NOT_RECORDED = "usage_not_recorded", "Usage invoiced, not recorded"
    QUANTITY_MISMATCH = "quantity_mismatch", "Quantities differ"
    # The partners scope: accruals vs settlement lines per partner and period.
    ACCRUAL_NOT_SETTLED = "accrual_not_settled", "Accrued, not settled"
    SETTLED_NOT_ACCRUED = "settled_not_accrued", "Settled, not accrued"


class BreakState(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    RESOLVED = "resolved", "Resolved"


class DocumentStatus(models.TextChoices):
    """A document's settlement status, the same words on both sides ("" = not known)."""

    UNKNOWN = "", "Unknown"
    OPEN = "open", "Open"
    SETTLED = "settled", "Settled (paid, credited or written off)"
    CANCELLED = "cancelled", "Cancelled"
    # ERP side only: held as a draft (or validated) document, never posted.
    UNPOSTED = "unposted", "Not posted (draft in the ERP)"


# The scopes that compare two sides of Concord's own records as totals per subject
# (TotalsRow), and what each side is called there.
TOTALS_SCOPES = (RunScope.USAGE, RunScope.PARTNERS)
SIDE_LABELS = {
    RunScope.DOCUMENTS: ("Billing", "ERP"),
    RunScope.USAGE: ("Recorded", "Invoiced"),
    RunScope.PARTNERS: ("Accrued", "Settled"),
}
# Invoice lines of these product families bill usage (settings.RECONCILIATION_USAGE_FAMILIES).
DEFAULT_USAGE_FAMILIES = ("usage",)

# ERP kind of a summary entry: one ERP document standing for several billing documents.
SUMMARY_KIND = "summary"
# Billing document kinds of the documents scope (the ERP kinds of erp_sync's DocumentType).
DOCUMENT_SCOPE_KINDS = ("invoice", "credit_note", "payment", "refund", "write_off")
