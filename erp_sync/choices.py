from django.db import models


class AdapterKind(models.TextChoices):
    SANDBOX = "sandbox", "Sandbox ledger"
    TRYTON = "tryton", "Tryton"


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed (healthy)"
    OPEN = "open", "Open (failing: jobs held)"
    HALF_OPEN = "half_open", "Half open (probing)"


class ClosedPeriodPolicy(models.TextChoices):
    POST_NEXT_OPEN = "post_next_open", "Post to the next open period, keep the original date"
    HOLD = "hold", "Hold for a person"


class DocumentType(models.TextChoices):
    INVOICE = "invoice", "Invoice"
    CREDIT_NOTE = "credit_note", "Credit note"
    PAYMENT = "payment", "Payment"
    REFUND = "refund", "Refund"
    WRITE_OFF = "write_off", "Write-off"
    SETTLEMENT = "settlement", "Partner settlement"


class SyncJobState(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    RETRY_WAIT = "retry_wait", "Waiting to retry"
    POSTED = "posted", "Posted"
    DEAD = "dead", "Dead"
    HELD = "held", "Held"
    CANCELLED = "cancelled", "Cancelled"


class HoldReason(models.TextChoices):
    CONNECTION_OPEN = "connection_open", "ERP connection failing (circuit open)"
    MAINTENANCE = "maintenance", "Maintenance window"
    PAUSED = "paused", "Connection paused"
    CLOSED_PERIOD = "closed_period", "Period closed in the ERP"
    AWAITING_PARENT = "awaiting_parent", "Waiting for the parent document"


class AttemptOutcome(models.TextChoices):
    POSTED = "posted", "Posted"
    FOUND_EXISTING = "found_existing", "Already in the ERP"
    RETRY = "retry", "Failed, will retry"
    DEAD = "dead", "Failed, dead-lettered"
    HELD = "held", "Held"


class BulkActionKind(models.TextChoices):
    REPLAY = "replay", "Replay"
    CANCEL = "cancel", "Cancel"
    POST_NEXT_OPEN = "post_next_open", "Post into the next open period"


class BulkActionState(models.TextChoices):
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
