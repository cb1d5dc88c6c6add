"""Exception cases: a problem on any record, put in front of a person until it is fixed.

A `Case` points at its subject generically (content type + id as text, so any primary key
works) and carries scope keys (entity, customer, partner, period) by which higher layers
ask whether something is held. There is at most one open or acknowledged case per
(subject, kind): a recurrence counts occurrences on it instead of adding a duplicate.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, transition

from config.history import AuditedManager, ConcordHistory


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

    kind = models.CharField(max_length=64, db_index=True, help_text='e.g. "unknown_customer"')
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
    sla_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
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
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="exc_case_subject")]
        constraints = [
            models.UniqueConstraint(
                fields=["subject_type", "subject_id", "kind"],
                condition=models.Q(state__in=["open", "acknowledged"]),
                name="exc_case_one_active_per_subject_kind",
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
