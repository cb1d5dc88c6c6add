"""The canonical event log: one FinanceEvent per (source, id), never edited."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from billing.choices import FinanceEventState
from config.history import AuditedManager, ConcordHistory
from config.indexes import BrinOrBtreeIndex
from config.links import reverse_id


class FinanceEvent(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """One canonical event as received: unique per (source, event_id), never edited.

    State: received → applied | quarantined; quarantined → applied (replay) | discarded |
    superseded (a person corrected it: `corrected_by` is the corrected copy, a new event).
    `result` is what the ingest call answered, returned again for a duplicate.
    A corrected copy names the event it `corrects` and keeps the `correction` (who asked
    why, and every changed field path with its old and new value); see
    billing.services.corrections.
    """

    source = models.CharField(max_length=200)
    event_id = models.CharField(max_length=200)
    type = models.CharField(max_length=64)
    specversion = models.CharField(max_length=8, default="1.0")
    event_time = models.DateTimeField()
    entity = models.CharField(max_length=16)
    correlation_id = models.CharField(max_length=128, blank=True, default="")
    body = models.JSONField(encoder=DjangoJSONEncoder)
    body_digest = models.CharField(max_length=64)
    state = FSMField(
        choices=FinanceEventState.choices, default=FinanceEventState.RECEIVED, protected=True
    )
    quarantine_reason = models.CharField(max_length=64, blank=True, default="")
    quarantine_detail = models.TextField(blank=True, default="")
    apply_attempts = models.PositiveIntegerField(default=0)
    result = models.JSONField(encoder=DjangoJSONEncoder, default=dict, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    # A corrected copy: the event it replaces and the correction ({"reason", "changes":
    # [{"field", "old", "new"}]}); empty on every ingested event. At most one correction per
    # event, by a partial unique index: an ingested event (all but a few) costs no entry.
    corrects = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="corrections",
        db_index=False,
    )
    correction = models.JSONField(encoder=DjangoJSONEncoder, default=dict, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    # The outbox marker: set once the event's receivers have acted on it (erp_sync: its sync
    # jobs exist), or at receipt when no receiver subscribed to its type (billing.signals).
    dispatched_at = models.DateTimeField(null=True, blank=True)
    # Who sent it. Not a database constraint, here and on the history's actor: every event of
    # a batch names the same service user, and the two deferred checks per event (each a
    # key-share lock on that one user row, which concurrent batches share) cost about 10 us
    # of PostgreSQL per event, 13%, on the ingest benchmark. Django still applies SET_NULL
    # when a user is deleted through it.
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # The log is append-only and written at thousands of rows a second: every index is paid
    # per event, so only the lookups the API and console make are indexed (see Meta), and the
    # history copies none of them but the event's id.
    objects = AuditedManager()
    # The outbox marker is bookkeeping, bulk-set without a history row (event_mark_dispatched).
    history_untracked_fields = frozenset({"dispatched_at"})
    history = ConcordHistory(
        excluded_fields=["body", "result", "correction"],
        no_db_index=["type", "entity", "received_at", "received_by", "corrects"],
        user_db_constraint=False,
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "event_id"], name="billing_event_source_id_uniq"
            ),
            models.UniqueConstraint(
                fields=["corrects"],
                name="billing_event_one_correction",
                condition=Q(corrects__isnull=False),
            ),
        ]
        indexes = [
            # Lists filter by entity, by type, and by the states an operator works on; an
            # applied event (nearly all of them) costs no entry in the state index.
            models.Index(fields=["entity", "event_time"], name="billing_evt_entity_time_idx"),
            models.Index(fields=["type", "id"], name="billing_evt_type_idx"),
            models.Index(
                fields=["state", "type"],
                name="billing_evt_open_state_idx",
                condition=~Q(state="applied"),
            ),
            models.Index(
                fields=["state", "dispatched_at"],
                name="billing_evt_undispatched_idx",
                condition=Q(state="applied", dispatched_at__isnull=True),
            ),
            # received_at grows with the log: a BRIN index answers date ranges for a few
            # pages of index instead of a B-tree entry per event.
            BrinOrBtreeIndex(fields=["received_at"], name="billing_evt_received_brin"),
            # Lineage search: any id typed in the console's search box is one indexed look-up.
            models.Index(fields=["event_id"], name="billing_evt_event_id_idx"),
            models.Index(
                fields=["correlation_id"],
                name="billing_evt_correlation_idx",
                condition=~Q(correlation_id=""),
            ),
        ]
        permissions = [
            ("replay_financeevent", "Can replay a quarantined finance event"),
            ("discard_financeevent", "Can discard a quarantined finance event"),
            ("correct_financeevent", "Can correct and replay a quarantined finance event"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.source}/{self.event_id}"

    def get_absolute_url(self) -> str:
        return reverse_id("billing:event-detail", self.pk)

    @property
    def data(self) -> dict:
        return self.body.get("data", {})

    @transition(
        field=state,
        source=FinanceEventState.RECEIVED,
        target=FinanceEventState.APPLIED,
        custom={"label": "Apply", "style": "primary"},
    )
    def apply(self) -> None:
        """The event's effects are recorded."""
        self.applied_at = timezone.now()
        self.quarantine_reason = ""
        self.quarantine_detail = ""

    @transition(
        field=state,
        source=FinanceEventState.RECEIVED,
        target=FinanceEventState.QUARANTINED,
        custom={"label": "Quarantine", "style": "warning"},
    )
    def quarantine(self, reason: str, detail: str) -> None:
        """Well-formed but cannot be applied now; waits for a fix and a replay."""
        self.quarantine_reason = reason
        self.quarantine_detail = detail

    @transition(
        field=state,
        source=FinanceEventState.QUARANTINED,
        target=FinanceEventState.APPLIED,
        custom={"label": "Replay", "style": "primary"},
    )
    def replay(self) -> None:
        """Applied on replay after its cause was fixed."""
        self.applied_at = timezone.now()
        self.quarantine_reason = ""
        self.quarantine_detail = ""

    @transition(
        field=state,
        source=FinanceEventState.QUARANTINED,
        target=FinanceEventState.DISCARDED,
        custom={"label": "Discard", "style": "danger"},
    )
    def discard(self) -> None:
        """A person decided the event must never be applied."""

    @transition(
        field=state,
        source=FinanceEventState.QUARANTINED,
        target=FinanceEventState.SUPERSEDED,
        custom={"label": "Correct and replay", "style": "primary"},
    )
    def supersede(self) -> None:
        """A person corrected it: a new event replaces it; this one is never applied."""


class DuplicateDeliveryCount(models.Model):
    """How many deliveries of an already stored event the ingest rejected, per entity and
    (UTC) day: `duplicates` answered 200 with the stored result, `conflicts` 409 (the same
    (source, id) with a different body).

    A counter row, not a row per delivery: a duplicate costs the ingest one upsert
    (billing.services.duplicates), on the duplicate path only. No history: a count is all
    there is to audit, and the events themselves are in the log.
    """

    entity = models.CharField(max_length=16)
    day = models.DateField()
    duplicates = models.PositiveBigIntegerField(default=0)
    conflicts = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["entity", "day"], name="billing_dup_count_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.entity} {self.day}: {self.duplicates} + {self.conflicts} conflicting"
