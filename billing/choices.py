from django.db import models


class FinanceEventState(models.TextChoices):
    RECEIVED = "received", "Received"
    APPLIED = "applied", "Applied"
    QUARANTINED = "quarantined", "Quarantined"
    DISCARDED = "discarded", "Discarded"
    SUPERSEDED = "superseded", "Superseded by a correction"


class SubscriptionState(models.TextChoices):
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


class BillingInterval(models.TextChoices):
    MONTH = "month", "Monthly"
    YEAR = "year", "Yearly"


class InvoiceState(models.TextChoices):
    ISSUED = "issued", "Issued"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    CREDITED = "credited", "Credited"
    WRITTEN_OFF = "written_off", "Written off"


class ErpStatus(models.TextChoices):
    """Where a billing record stands in the ERP; kept by erp_sync through billing services."""

    NOT_SENT = "not_sent", "Not sent"
    PENDING = "pending", "Pending"
    POSTED = "posted", "Posted"
    HELD = "held", "Held"
    DEAD = "dead", "Dead"


class QuarantineReason(models.TextChoices):
    """Why a well-formed event could not be applied; also the kind of the case it opens."""

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
