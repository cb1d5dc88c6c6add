"""A replay or cancel of many sync jobs asked for at once (the console's bulk actions).

Kept beside models.py (which imports it, so the model is erp_sync's) to keep that module
short. The row is the audit of the request — who, why, which jobs (by selection or by the
filter, written out) — and the progress the console polls while a task works through it.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_fsm import ConcurrentTransitionMixin, FSMField, FSMModelMixin, transition

from config.history import AuditedManager, ConcordHistory
from erp_sync.choices import BulkActionKind, BulkActionState


class SyncJobBulkAction(ConcurrentTransitionMixin, FSMModelMixin, models.Model):
    """running → completed. `done` counts the jobs of `job_ids` handled, in their order."""

    kind = models.CharField(max_length=16, choices=BulkActionKind.choices)
    state = FSMField(
        max_length=16,
        choices=BulkActionState.choices,
        default=BulkActionState.RUNNING,
        protected=True,
    )
    reason = models.CharField(max_length=300, blank=True, default="")
    # "selected" or the list's query string at the time (the filter the person applied).
    scope = models.CharField(max_length=500, blank=True, default="")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    job_ids = models.JSONField(default=list)
    # post_next_open: the period's first day the jobs are posted on, and the closed-period
    # case they were held on.
    posting_date = models.DateField(null=True, blank=True)
    case = models.ForeignKey(
        "exceptions.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    objects = AuditedManager()
    history = ConcordHistory()
    # The progress the task records after each chunk: its completion writes the history row.
    history_untracked_fields = frozenset({"done", "counts"})

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(done__lte=models.F("total")), name="erp_bulk_done_lte_total"
            )
        ]

    def __str__(self) -> str:
        return f"bulk {self.kind} #{self.pk} ({self.done}/{self.total})"

    def outcomes(self) -> list[tuple[str, int]]:
        """(outcome in words, how many) of the jobs handled so far, the empty ones left out."""
        return [(key.replace("_", " "), n) for key, n in self.counts.items() if n]

    @transition(field=state, source=BulkActionState.RUNNING, target=BulkActionState.COMPLETED)
    def complete(self) -> None:
        self.finished_at = timezone.now()
