"""Set-based writes of a posting batch: many jobs' transitions and history rows in a few
statements instead of a save() (an UPDATE and a history INSERT) per job.

Each job still goes through its FSM transition in Python (illegal ones raise) and gets its
own history row with its own reason; only the writing is shared. Callers hold the rows'
locks (the batch claimed them with FOR UPDATE SKIP LOCKED) inside their transaction.
"""

from __future__ import annotations

from django.utils import timezone

from billing.services.bulk_write import history_insert, update_columns
from config.history import history_attrs
from erp_sync.models import SyncJob


def jobs_save_many(jobs: list[SyncJob], *, fields: list[str]) -> None:
    """Write `fields` of `jobs` (already transitioned, each stamped with its actor and reason)
    in one UPDATE, then their history rows in one COPY. Their FSM state is marked as saved.

    Each row is written only while its state is the one its job was read in (what
    ConcurrentTransitionMixin's save() checks); otherwise ConcurrentTransition is raised and
    the caller's transaction rolls back."""
    if not jobs:
        return
    now = timezone.now()
    for job in jobs:
        job.updated_at = now
    update_columns(SyncJob, jobs, [*fields, "updated_at"])
    history_insert(SyncJob, jobs, history_type="~", custom_historical_attrs=history_attrs())
