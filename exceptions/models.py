"""Exception cases: a problem on any record, put in front of a person until it is fixed.

A `Case` points at its subject generically (content type + id as text, so any primary key
works) and carries scope keys (entity, customer, partner, period) by which higher layers
ask whether something is held. A case is one of two shapes:

- record-level (blank `cause_key`): the subject itself is at fault (a quarantined event);
  at most one open or acknowledged case per (subject, kind);
- grouped by cause (`cause_key` set, e.g. "mapping_missing:3:DE01:invoice:support"): one
  thing blocks many records; the blocked records are its `items` (`CaseItem`, with their
  value), at most one open or acknowledged case per (kind, cause_key).

A recurrence counts occurrences (and adds items) on the active case instead of adding a
duplicate. Each kind has an owning group (`CaseKindOwner`) that new cases are routed to
and that is e-mailed when a case passes its SLA (`escalated_at`).
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from config.history import AuditedManager, ConcordHistory
from config.money import AMOUNT_DECIMAL_PLACES, AMOUNT_MAX_DIGITS
from exceptions.kinds import CaseKind, kind_label


class CaseState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


class CaseSeverity(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


# A case in one of these states still needs a person (and may hold settlements).
ACTIVE_STATES = (CaseState.OPEN, CaseState.ACKNOWLEDGED)
# Severities whose cases hold settlements for their scope unless told otherwise.
BLOCKING_SEVERITIES = (CaseSeverity.HIGH, CaseSeverity.CRITICAL)


def sla_due(severity: str, since: datetime) -> datetime:
    """When a case of `severity` seen at `since` is due (settings.CONCORD_CASE_SLA_HOURS)."""
    return since + timedelta(hours=settings.CONCORD_CASE_SLA_HOURS[severity])


class Case(ConcurrentTransitionMixin, models.Model):
    """One problem on one subject, of one kind, with its lifecycle and scope.

    open → acknowledged → resolved | dismissed; open → resolved | dismissed directly;
    resolved → open when the problem recurs.
    """

    kind = models.CharField(max_length=64, db_index=True, choices=CaseKind.choices)
    severity = models.CharField(max_length=16, choices=CaseSeverity.choices)
    state = FSMField(
        max_length=16,
        choices=CaseState.choices,
        default=CaseState.OPEN,
        protected=True,
        db_index=True,
    )

    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.CharField(max_length=128)
    subject = GenericForeignKey("subject_type", "subject_id")
    subject_label = models.CharField(max_length=255, blank=True, default="")
    cause_key = models.CharField(
        max_length=255,
        blank=True,
        default="",
        help_text="Set on a case grouped by cause: what blocks its items (blank: record-level).",
    )
    item_count = models.PositiveIntegerField(
        default=0, help_text="Records this cause blocks now (items not yet cleared)."
    )

    entity = models.CharField(max_length=32, blank=True, default="", db_index=True)
    customer = models.CharField(max_length=128, blank=True, default="", db_index=True)
    partner = models.CharField(max_length=128, blank=True, default="", db_index=True)
    period = models.CharField(
        max_length=7, blank=True, default="", db_index=True, help_text='"YYYY-MM"'
    )

    title = models.CharField(max_length=255)
    detail = models.JSONField(default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_cases",
    )
    owner_group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sla_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    occurrences = models.PositiveIntegerField(default=1)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True, default="")
    blocking = models.BooleanField(
        default=False, help_text="Holds settlements of its scope while open or acknowledged."
    )

    objects = AuditedManager()

    history = ConcordHistory()

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="exc_case_subject"),
            # The queue's default order and its keyset pages.
            models.Index(fields=["-last_seen_at", "-id"], name="exc_case_queue_order"),
            # The same order within one kind: a queue filtered by kind (and entity, SLA...)
            # walked the whole order for its 50 rows (bench_console: 17,834 rows read, 120 ms).
            models.Index(fields=["kind", "-last_seen_at", "-id"], name="exc_case_kind_order"),
            # The same within one kind and entity (the commonest scope filter): a queue
            # filtered by both read the kind's order past every other entity's cases
            # (bench_console: 1,664 cases read for 51, 4 ms; 2 ms with this index).
            models.Index(
                fields=["kind", "entity", "-last_seen_at", "-id"], name="exc_case_kind_entity_order"
            ),
            # The queue's counts per kind (each capped: selectors.case_counts), also under the
            # most common scope filter, the entity, without reading the cases themselves.
            models.Index(fields=["kind", "state", "entity"], name="exc_case_kind_state_entity"),
            # Its counts per SLA state (past, due soon, on time, escalated), from the index alone,
            # also under an entity filter.
            models.Index(
                fields=["state", "sla_due_at", "escalated_at", "entity"], name="exc_case_state_sla"
            ),
            # The dashboard's backlog (kind x severity x age of the active cases): an
            # index-only scan of the active cases, however many were resolved.
            models.Index(
                fields=["kind", "severity", "first_seen_at"],
                condition=models.Q(state__in=["open", "acknowledged"]),
                name="exc_case_backlog_idx",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "kind"],
                condition=models.Q(state__in=["open", "acknowledged"], cause_key=""),
                name="exc_case_one_active_per_subject_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "cause_key"],
                condition=models.Q(state__in=["open", "acknowledged"]) & ~models.Q(cause_key=""),
                name="exc_case_one_active_per_cause",
            ),
            models.CheckConstraint(
                condition=models.Q(severity__in=["low", "medium", "high", "critical"]),
                name="exc_case_severity_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(occurrences__gte=1), name="exc_case_occurrences_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind}: {self.title}"

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def is_overdue(self) -> bool:
        return self.is_active and self.sla_due_at is not None and self.sla_due_at < timezone.now()

    @property
    def is_grouped(self) -> bool:
        return bool(self.cause_key)

    @property
    def kind_label(self) -> str:
        return kind_label(self.kind)

    @transition(
        field=state,
        source=CaseState.OPEN,
        target=CaseState.ACKNOWLEDGED,
        custom={"label": "Acknowledge", "style": "secondary"},
    )
    def acknowledge(self, *, owner=None) -> None:
        """Someone has taken the case; `owner` (if given) becomes its owner."""
        if owner is not None:
            self.owner = owner

    @transition(
        field=state,
        source=[CaseState.OPEN, CaseState.ACKNOWLEDGED],
        target=CaseState.RESOLVED,
        custom={"label": "Resolve", "style": "primary"},
    )
    def resolve(self, *, reason: str, at: datetime) -> None:
        """The cause is fixed."""
        self.resolution = reason
        self.resolved_at = at

    @transition(
        field=state,
        source=[CaseState.OPEN, CaseState.ACKNOWLEDGED],
        target=CaseState.DISMISSED,
        custom={"label": "Dismiss", "style": "danger"},
    )
    def dismiss(self, *, reason: str, at: datetime) -> None:
        """Not a problem after all (or nothing Concord can do)."""
        self.resolution = reason
        self.resolved_at = at

    @transition(
        field=state,
        source=CaseState.RESOLVED,
        target=CaseState.OPEN,
        custom={"label": "Reopen", "style": "secondary"},
    )
    def reopen(self, *, at: datetime) -> None:
        """The problem came back after it was resolved; the SLA clock restarts."""
        self.resolved_at = None
        self.resolution = ""
        self.sla_due_at = sla_due(self.severity, at)


class CaseComment(models.Model):
    """A note a person left on a case. Comments are never edited."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuditedManager()

    history = ConcordHistory()

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment #{self.pk} on case #{self.case_id}"


class CaseItem(models.Model):
    """One record a grouped case's cause blocks (a sync job waiting for a mapping rule).

    Added by `case_open_or_bump(item=...)`; `cleared_at` is set when the record no longer
    waits (it posted, it was cancelled), and the case resolves when none is left.
    """

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="items")
    subject_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    subject_id = models.CharField(max_length=128)
    label = models.CharField(max_length=255, blank=True, default="")
    value_amount = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS, decimal_places=AMOUNT_DECIMAL_PLACES, null=True, blank=True
    )
    currency = models.CharField(max_length=3, blank=True, default="")
    # The item's own scope, by which a grouped case holds settlements (partners' holds).
    customer = models.CharField(max_length=128, blank=True, default="")
    period = models.CharField(max_length=7, blank=True, default="", help_text='"YYYY-MM"')
    added_at = models.DateTimeField(default=timezone.now)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["added_at", "id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id"], name="exc_item_subject"),
            # A grouped case's blocked records, oldest first, their totals per currency, their
            # months and the oldest one's record, read from the index alone (10,000 items:
            # bench_console).
            models.Index(
                fields=["case", "added_at", "id"],
                include=["currency", "value_amount", "period", "subject_type", "subject_id"],
                condition=models.Q(cleared_at__isnull=True),
                name="exc_item_case_open_order",
            ),
            models.Index(fields=["customer"], name="exc_item_customer"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "subject_type", "subject_id"], name="exc_item_one_per_case"
            )
        ]

    def __str__(self) -> str:
        return f"{self.label or self.subject_id} on case #{self.case_id}"


class CaseKindOwner(models.Model):
    """Which group owns the cases of one kind: new cases are routed to it, and it is e-mailed
    when one of them passes its SLA. Kinds without a row go to settings.CONCORD_CASE_DEFAULT_GROUP.
    Edited by an admin (Django admin)."""

    kind = models.CharField(max_length=64, unique=True, choices=CaseKind.choices)
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="+")

    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.kind} → {self.group.name}"


class SavedCaseFilter(models.Model):
    """A named queue filter (its query string) one person saved for themselves."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_case_filters"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="exc_saved_filter_name_per_user")
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user_id})"


class CaseCount(models.Model):
    """A change in the number of cases per (kind, state, entity, escalated): the queue's
    counts summed from these rows instead of counted from the cases (exceptions.summaries).

    Written only by PostgreSQL triggers on the case table, in the writing transaction, one
    row per key a statement changed (so concurrent writers never wait on a shared counter
    row); `summaries_compact` folds the rows into one per key. The sum over the rows of a
    key is exactly the number of cases with that key. Not used on other databases.
    """

    kind = models.CharField(max_length=64)
    state = models.CharField(max_length=16)
    entity = models.CharField(max_length=32, blank=True, default="")
    escalated = models.BooleanField(default=False)
    delta = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(
                fields=["state", "entity", "kind"],
                include=["escalated", "delta"],
                name="exc_casecount_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.state}/{self.entity}/{self.escalated}: {self.delta:+d}"


class CaseItemTotal(models.Model):
    """A change in a grouped case's open items (not cleared) per (case, currency, period): how
    many, how many with a value, and the sum of their values. The case page's totals summed
    from these rows instead of from the items (exceptions.summaries; kept like CaseCount).

    `case_id` is a plain column, not a foreign key: the rows a case's deleted items leave
    sum to zero and are folded away.
    """

    case_id = models.BigIntegerField()
    currency = models.CharField(max_length=3, blank=True, default="")
    period = models.CharField(max_length=7, blank=True, default="")
    items = models.BigIntegerField()
    valued = models.BigIntegerField()
    # Wider than an amount: a sum of many.
    value = models.DecimalField(
        max_digits=AMOUNT_MAX_DIGITS + 10, decimal_places=AMOUNT_DECIMAL_PLACES
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["case_id", "currency", "period"],
                include=["items", "valued", "value"],
                name="exc_itemtotal_key",
            )
        ]

    def __str__(self) -> str:
        return f"case #{self.case_id} {self.currency} {self.period}: {self.items:+d}"
