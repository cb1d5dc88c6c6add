"""ERP connections, mapping rules, sync jobs and their attempts (the sandbox ledger is in
sandbox_models.py).

Lineage: billing.FinanceEvent → billing record → SyncJob → SyncAttempt → ERP document
(erp_id / erp_number on the job).
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from config.history import AuditedManager, ConcordHistory
from config.links import reverse_id
from erp_sync.choices import (
    AdapterKind,
    AttemptOutcome,
    CircuitState,
    ClosedPeriodPolicy,
    DocumentType,
    HoldReason,
    SyncJobState,
)

# A connection may only read variables with this prefix, so an admin cannot make Concord
# send DJANGO_SECRET_KEY or a database password to a host of their choosing.
SECRET_ENV_PREFIX = "CONCORD_ERP_"


def validate_secret_env(value: str) -> None:
    """Refuse a `secret_env` outside the CONCORD_ERP_ namespace (blank is allowed)."""
    if value and not value.startswith(SECRET_ENV_PREFIX):
        raise ValidationError(
            f"secret_env must name a variable starting with {SECRET_ENV_PREFIX} (got {value!r})",
            code="secret_env_prefix",
        )


class Connection(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """One ERP system for one legal entity, with its circuit breaker.

    Circuit: closed → open after `failure_threshold` straight retryable failures (jobs are
    held, no call reaches the ERP) → half_open after `open_cooldown_seconds` (one probe)
    → closed on success, or open again on failure. Secrets are never stored: `secret_env`
    names the environment variable that holds the password or token.
    """

    name = models.CharField(max_length=100, unique=True)
    entity = models.ForeignKey(
        "billing.LegalEntity", on_delete=models.PROTECT, related_name="erp_connections"
    )
    adapter_kind = models.CharField(max_length=16, choices=AdapterKind.choices)
    settings = models.JSONField(default=dict, blank=True, help_text="Non-secret settings.")
    secret_env = models.CharField(max_length=100, blank=True, default="")
    is_active = models.BooleanField(default=True)
    max_concurrency = models.PositiveSmallIntegerField(default=4)
    failure_threshold = models.PositiveSmallIntegerField(default=5)
    open_cooldown_seconds = models.PositiveIntegerField(default=60)
    closed_period_policy = models.CharField(
        max_length=16, choices=ClosedPeriodPolicy.choices, default=ClosedPeriodPolicy.HOLD
    )
    paused = models.BooleanField(default=False)
    paused_reason = models.CharField(max_length=300, blank=True, default="")
    circuit_state = FSMField(
        choices=CircuitState.choices, default=CircuitState.CLOSED, protected=True
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    objects = AuditedManager()
    # Failure counters, bulk-set without a history row (services/circuit.py); a trip or a
    # recovery is a transition and saved with history.
    history_untracked_fields = frozenset(
        {"consecutive_failures", "last_error", "last_error_at", "last_success_at"}
    )
    history = ConcordHistory()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["entity", "adapter_kind"],
                condition=Q(is_active=True),
                name="erp_connection_one_active_per_entity_kind",
            ),
            models.CheckConstraint(
                condition=Q(max_concurrency__gte=1), name="erp_connection_concurrency_positive"
            ),
            # Tryton numbers its documents under one lock: a second poster only waits (503).
            models.CheckConstraint(
                condition=~Q(adapter_kind="tryton") | Q(max_concurrency=1),
                name="erp_connection_tryton_single_poster",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse_id("erp_sync:connection-detail", self.pk)

    def clean(self) -> None:
        validate_secret_env(self.secret_env)

    @transition(
        field=circuit_state,
        source=[CircuitState.CLOSED, CircuitState.HALF_OPEN],
        target=CircuitState.OPEN,
        custom={"label": "Open circuit", "style": "danger"},
    )
    def trip(self, *, error: str) -> None:
        """Too many straight failures (or a failed probe): stop calling the ERP."""
        self.opened_at = timezone.now()
        self.last_error = error
        self.last_error_at = self.opened_at

    @transition(
        field=circuit_state,
        source=CircuitState.OPEN,
        target=CircuitState.HALF_OPEN,
        custom={"label": "Probe", "style": "secondary"},
    )
    def probe(self) -> None:
        """The cooldown passed: let one call through to test the ERP."""

    @transition(
        field=circuit_state,
        source=[CircuitState.HALF_OPEN, CircuitState.OPEN],
        target=CircuitState.CLOSED,
        custom={"label": "Close circuit", "style": "primary"},
    )
    def recover(self) -> None:
        """The ERP answered: resume normal posting."""
        self.consecutive_failures = 0
        self.opened_at = None
        self.last_success_at = timezone.now()


class MaintenanceWindow(models.Model):
    """A period during which no call is made to the connection's ERP; its jobs are held."""

    connection = models.ForeignKey(
        Connection, on_delete=models.CASCADE, related_name="maintenance_windows"
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True, default="")
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="erp_window_ends_after_start"
            )
        ]


class MappingRule(models.Model):
    """Maps (entity, document type, product family, country/region, currency, partner kind)
    to ERP accounts and codes, for an effective date range. A blank match field matches
    anything; the rule with the most non-blank match fields wins. Each edit makes a new
    version (a new row superseding the old one), so what was posted keeps its rule.
    """

    MATCH_FIELDS = (
        "entity",
        "document_type",
        "product_family",
        "country",
        "region",
        "currency",
        "partner_kind",
    )

    name = models.CharField(max_length=200)
    entity = models.CharField(max_length=16, blank=True, default="")
    document_type = models.CharField(
        max_length=16, choices=DocumentType.choices, blank=True, default=""
    )
    product_family = models.CharField(max_length=100, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    region = models.CharField(max_length=64, blank=True, default="")
    currency = models.CharField(max_length=3, blank=True, default="")
    partner_kind = models.CharField(max_length=16, blank=True, default="")
    revenue_account = models.CharField(max_length=64, blank=True, default="")
    receivable_account = models.CharField(max_length=64, blank=True, default="")
    tax_code = models.CharField(max_length=32, blank=True, default="")
    tax_account = models.CharField(max_length=64, blank=True, default="")
    cost_center = models.CharField(max_length=64, blank=True, default="")
    erp_item = models.CharField(max_length=100, blank=True, default="")
    subsidiary = models.CharField(max_length=100, blank=True, default="")
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    specificity = models.PositiveSmallIntegerField(default=0, editable=False)
    version = models.PositiveIntegerField(default=1)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    objects = AuditedManager()
    history = ConcordHistory()

    class Meta:
        ordering = ["-specificity", "name", "-version"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=F("valid_from")),
                name="erp_rule_dates_in_order",
            )
        ]
        indexes = [models.Index(fields=["is_active", "document_type"], name="erp_rule_active_idx")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    def compute_specificity(self) -> int:
        return sum(1 for name in self.MATCH_FIELDS if getattr(self, name))


class SyncJob(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """One document of one event to one connection; posted at most once.

    pending → in_flight → posted; in_flight → retry_wait → in_flight; in_flight → dead
    (attempts exhausted or non-retryable); dead → pending (replay); pending → held
    (circuit open, maintenance, paused, closed period, awaiting parent) → pending;
    in_flight → pending when its lease expired (the worker died); pending | held | dead
    → cancelled (with a reason). `external_id` is derived from the event: it is what the
    ERP is searched by before anything is created.
    """

    event = models.ForeignKey(
        "billing.FinanceEvent", on_delete=models.PROTECT, related_name="sync_jobs"
    )
    connection = models.ForeignKey(Connection, on_delete=models.PROTECT, related_name="jobs")
    document_type = models.CharField(max_length=16, choices=DocumentType.choices)
    external_id = models.CharField(max_length=200)
    parent_external_id = models.CharField(max_length=200, blank=True, default="")
    state = FSMField(choices=SyncJobState.choices, default=SyncJobState.PENDING, protected=True)
    hold_reason = models.CharField(
        max_length=32, choices=HoldReason.choices, blank=True, default=""
    )
    document = models.JSONField(default=dict, blank=True)
    mapping_rules = models.ManyToManyField(MappingRule, blank=True, related_name="jobs")
    attempts = models.PositiveIntegerField(default=0)
    # Attempts made before the last replay, which starts `attempts` (the retry budget) again:
    # attempt numbers go on from them, so they stay unique per job.
    earlier_attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=8)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    erp_id = models.CharField(max_length=100, blank=True, default="")
    erp_number = models.CharField(max_length=100, blank=True, default="")
    posted_at = models.DateTimeField(null=True, blank=True)
    posting_date = models.DateField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_code = models.CharField(max_length=64, blank=True, default="")
    cancel_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    objects = AuditedManager()
    history = ConcordHistory(excluded_fields=["document"])

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "connection"], name="erp_job_one_per_event_conn"
            ),
            models.UniqueConstraint(
                fields=["connection", "external_id"], name="erp_job_external_id_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "connection"], name="erp_job_state_conn_idx"),
            models.Index(fields=["connection", "parent_external_id"], name="erp_job_parent_idx"),
            # A batch claims the oldest ready jobs of a connection: an index scan in id order
            # over only the ready rows (posted ones leave it), not a sort of the backlog.
            models.Index(
                fields=["connection", "id"],
                condition=Q(state__in=["pending", "retry_wait"]),
                name="erp_job_ready_idx",
            ),
            # Lineage search by the ERP's document number or id.
            models.Index(
                fields=["erp_number"], name="erp_job_erp_number_idx", condition=~Q(erp_number="")
            ),
            models.Index(fields=["erp_id"], name="erp_job_erp_id_idx", condition=~Q(erp_id="")),
            # The dashboard's recent postings and their latency: an index-only range scan.
            models.Index(fields=["posted_at", "created_at", "connection"], name="erp_job_posted"),
        ]
        permissions = [
            ("replay_syncjob", "Can replay a sync job"),
            ("cancel_syncjob", "Can cancel a sync job"),
            ("post_next_open_syncjob", "Can post held jobs into the next open period"),
        ]

    def __str__(self) -> str:
        return f"{self.document_type} {self.external_id} → {self.connection}"

    def get_absolute_url(self) -> str:
        return reverse_id("erp_sync:job-detail", self.pk)

    @transition(
        field=state,
        source=[SyncJobState.PENDING, SyncJobState.RETRY_WAIT],
        target=SyncJobState.IN_FLIGHT,
        custom={"label": "Start", "style": "secondary"},
    )
    def start(self, *, lease_expires_at) -> None:
        """A worker took the job and holds it until `lease_expires_at`."""
        self.attempts += 1
        self.lease_expires_at = lease_expires_at
        self.hold_reason = ""

    @transition(
        field=state,
        source=SyncJobState.IN_FLIGHT,
        target=SyncJobState.POSTED,
        custom={"label": "Mark posted", "style": "primary"},
    )
    def succeed(self, *, erp_id: str, erp_number: str) -> None:
        """The ERP holds the document."""
        self.erp_id = erp_id
        self.erp_number = erp_number
        self.posted_at = timezone.now()
        self.lease_expires_at = None
        self.last_error = ""
        self.last_error_code = ""

    @transition(
        field=state,
        source=SyncJobState.IN_FLIGHT,
        target=SyncJobState.RETRY_WAIT,
        custom={"label": "Retry later", "style": "warning"},
    )
    def schedule_retry(self, *, error: str, code: str, next_attempt_at) -> None:
        """A transient failure: try again at `next_attempt_at`."""
        self.last_error = error
        self.last_error_code = code
        self.next_attempt_at = next_attempt_at
        self.lease_expires_at = None

    @transition(
        field=state,
        source=[SyncJobState.IN_FLIGHT, SyncJobState.PENDING],
        target=SyncJobState.DEAD,
        custom={"label": "Dead-letter", "style": "danger"},
    )
    def dead_letter(self, *, error: str, code: str) -> None:
        """Non-retryable, or attempts exhausted: a person must act (a case is opened)."""
        self.last_error = error
        self.last_error_code = code
        self.lease_expires_at = None
        self.next_attempt_at = None

    @transition(
        field=state,
        source=SyncJobState.DEAD,
        target=SyncJobState.PENDING,
        custom={"label": "Replay", "style": "primary"},
    )
    def replay(self) -> None:
        """Try again from scratch after the cause was fixed (a new retry budget; the attempts
        so far are kept in the count the attempt numbers go on from)."""
        self.earlier_attempts += self.attempts
        self.attempts = 0
        self.next_attempt_at = None

    @transition(
        field=state,
        source=[SyncJobState.PENDING, SyncJobState.RETRY_WAIT, SyncJobState.IN_FLIGHT],
        target=SyncJobState.HELD,
        custom={"label": "Hold", "style": "warning"},
    )
    def hold(self, *, reason: str) -> None:
        """Not attempted until the reason clears (no call reaches the ERP)."""
        self.hold_reason = reason
        self.lease_expires_at = None

    @transition(
        field=state,
        source=SyncJobState.HELD,
        target=SyncJobState.PENDING,
        custom={"label": "Release", "style": "primary"},
    )
    def release(self) -> None:
        """The hold cleared."""
        self.hold_reason = ""
        self.next_attempt_at = None

    @transition(
        field=state,
        source=SyncJobState.IN_FLIGHT,
        target=SyncJobState.PENDING,
        custom={"label": "Reclaim", "style": "secondary"},
    )
    def reclaim(self) -> None:
        """The worker's lease expired (it died): the job goes back to the queue."""
        self.lease_expires_at = None

    @transition(
        field=state,
        source=[SyncJobState.PENDING, SyncJobState.HELD, SyncJobState.DEAD],
        target=SyncJobState.CANCELLED,
        custom={"label": "Cancel", "style": "danger"},
    )
    def cancel(self, *, reason: str) -> None:
        """A person decided this document must not reach the ERP."""
        self.cancel_reason = reason


class SyncAttempt(models.Model):
    """One try of a job: what was sent (digest), what came back, how long it took."""

    job = models.ForeignKey(SyncJob, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    request_digest = models.CharField(max_length=64, blank=True, default="")
    outcome = models.CharField(max_length=16, choices=AttemptOutcome.choices)
    error_class = models.CharField(max_length=100, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    response = models.JSONField(default=dict, blank=True)
    erp_reference = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["job", "number"]
        constraints = [
            models.UniqueConstraint(fields=["job", "number"], name="erp_attempt_number_uniq")
        ]


# erp_sync's bulk-action and sandbox-ledger models live in their own modules; importing them
# here registers them (and keeps `from erp_sync.models import ...` working).
from erp_sync.bulk_models import SyncJobBulkAction  # noqa: E402, F401
from erp_sync.sandbox_models import (  # noqa: E402, F401
    SandboxAccount,
    SandboxDocument,
    SandboxEntry,
    SandboxPeriod,
)
