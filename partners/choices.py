from django.db import models


class PartnerKind(models.TextChoices):
    REFERRAL = "referral", "Referral"
    RESELLER = "reseller", "Reseller"
    DISTRIBUTOR = "distributor", "Distributor"


class AttributionRole(models.TextChoices):
    """The part a partner played in a deal; subscription.created's partner_role."""

    REFERRAL = "referral", "Referral"
    RESELLER = "reseller", "Reseller"
    DISTRIBUTOR = "distributor", "Distributor"


class AttributionOrigin(models.TextChoices):
    EVENT = "event", "subscription.created event"
    CONSOLE = "console", "Console or API"


class AgreementState(models.TextChoices):
    ACTIVE = "active", "Active"
    SUPERSEDED = "superseded", "Superseded by a newer version"


class SettlementPeriod(models.TextChoices):
    MONTH = "month", "Monthly"
    QUARTER = "quarter", "Quarterly"


class CommissionBasis(models.TextChoices):
    INVOICED = "invoiced", "Invoiced (net of credit notes and write-offs)"
    COLLECTED = "collected", "Collected (cash allocated to invoices, net of refunds)"


class TierMode(models.TextChoices):
    WHOLE_VOLUME = "whole_volume", "Whole volume (with a true-up when a tier is crossed)"
    MARGINAL = "marginal", "Marginal (each band at its own rate)"


class RuleKind(models.TextChoices):
    PERCENT_OF_NET = "percent_of_net", "Percent of net revenue"
    TIERED = "tiered", "Tiered percent by period volume"
    PER_UNIT = "per_unit", "Fixed amount per unit"
    REBATE = "rebate", "Rebate over a period threshold"
    CAP = "cap", "Cap (and optional floor) per period"


class AccrualSource(models.TextChoices):
    """What produced an accrual. Line and cash sources earn; the reversals claw back."""

    INVOICE_LINE = "invoice_line", "Invoice line"
    CREDIT_LINE = "credit_line", "Credit-note line"
    PAYMENT = "payment", "Payment allocated to an invoice"
    REFUND = "refund", "Refund"
    WRITE_OFF = "write_off", "Write-off"
    PERIOD = "period", "Period adjustment (true-up, rebate, cap, floor)"


CLAWBACK_SOURCES = (AccrualSource.CREDIT_LINE, AccrualSource.REFUND, AccrualSource.WRITE_OFF)


class SettlementState(models.TextChoices):
    DRAFT = "draft", "Draft"
    CALCULATED = "calculated", "Calculated"
    SUBMITTED = "submitted", "Submitted for approval"
    APPROVED = "approved", "Approved"
    POSTED = "posted", "Posted to the ERP"
    PAID = "paid", "Paid"
    REJECTED = "rejected", "Rejected"
    ON_HOLD = "on_hold", "On hold"


# Approved and later: the statement is frozen, its accruals are never recomputed.
FROZEN_SETTLEMENT_STATES = (SettlementState.APPROVED, SettlementState.POSTED, SettlementState.PAID)


class SettlementLineKind(models.TextChoices):
    ACCRUAL = "accrual", "Accrual"
    CLAWBACK = "clawback", "Clawback"
    TRUE_UP = "true_up", "True-up"
