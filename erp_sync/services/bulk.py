"""Bulk replay / cancel of sync jobs from the console: by selection or by the list's filter.

`bulk_action_start` writes the request down (who, why, which jobs, written out when asked,
so the set cannot drift while it runs) and enqueues `erp_sync.bulk_action_run` by name;
`bulk_action_run` works through the jobs in id order, each job in its own transaction through
the one-job services (`job_replay`, `job_cancel`: their history rows name the bulk action),
and records its progress after each chunk, which the console polls. A redelivered task picks
up where `done` says; a job handled twice is harmless (both services are idempotent).
"""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet

from config.celery import app as celery_app
from config.history import stamp
from erp_sync.choices import BulkActionKind, BulkActionState
from erp_sync.models import SyncJob, SyncJobBulkAction
from erp_sync.services.common import SyncJobError
from erp_sync.services.jobs import REPLAY_OUTCOMES, job_cancel, job_post, job_replay_outcome
from erp_sync.services.periods import job_move_to_period

BULK_TASK = "erp_sync.bulk_action_run"
# Progress is written after this many jobs (one UPDATE), so the console moves smoothly.
CHUNK = 10
CANCEL_OUTCOMES = ("cancelled", "skipped")
# post_next_open: posted; queued (moved, its post left to the queue: no slot free, a retry
# due later); held_again (the new period is closed too, or the ERP is failing); failed (its
# document cannot be built, or the ERP refused it); skipped (no longer held by the period).
POST_NEXT_OPEN_OUTCOMES = ("posted", "queued", "held_again", "failed", "skipped")
# What `job_post` answered → the outcome counted.
_POSTED_AS = {"posted": "posted", "held": "held_again", "dead": "failed"}


def bulk_limit() -> int:
    return getattr(settings, "CONCORD_BULK_ACTION_MAX", 5000)


def bulk_action_start(
    *, kind: str, jobs: QuerySet[SyncJob], actor, reason: str = "", scope: str = "selected"
) -> SyncJobBulkAction:
    """Record a bulk `kind` over `jobs` and enqueue its task once committed.

    Raises SyncJobError: unknown_action, reason_required (a cancel needs a reason),
    nothing_selected (no job matches), too_many (more than CONCORD_BULK_ACTION_MAX; narrow
    the filter). The caller checks the permission of `kind`.
    """
    if kind not in (BulkActionKind.REPLAY, BulkActionKind.CANCEL):
        # post_next_open is started from its case (services/period_fix.py).
        raise SyncJobError(f"unknown bulk action {kind!r}", code="unknown_action", field="action")
    reason = (reason or "").strip()
    if kind == BulkActionKind.CANCEL and not reason:
        raise SyncJobError(
            "a reason is required to cancel jobs", code="reason_required", field="reason"
        )
    limit = bulk_limit()
    ids = list(jobs.order_by("id").values_list("pk", flat=True)[: limit + 1])
    if not ids:
        raise SyncJobError("no sync job matches", code="nothing_selected", field="job")
    if len(ids) > limit:
        raise SyncJobError(
            f"more than {limit} jobs match: narrow the filter", code="too_many", field="job"
        )
    action = SyncJobBulkAction(
        kind=kind,
        reason=reason[:300],
        scope=scope[:500],
        requested_by=actor if getattr(actor, "pk", None) else None,
        job_ids=ids,
        total=len(ids),
        counts=dict.fromkeys(_outcomes(kind), 0),
    )
    verb = "replay" if kind == BulkActionKind.REPLAY else "cancel"
    stamp(action, actor=actor, reason=f"bulk {verb} of {len(ids)} jobs asked: {reason}")
    with transaction.atomic():
        action.save()
        transaction.on_commit(lambda: bulk_action_enqueue(action.pk))
    return action


def bulk_action_enqueue(action_id: int) -> None:
    celery_app.signature(BULK_TASK, kwargs={"action_id": action_id}).apply_async()


def _outcomes(kind: str) -> tuple[str, ...]:
    if kind == BulkActionKind.POST_NEXT_OPEN:
        return POST_NEXT_OPEN_OUTCOMES
    return REPLAY_OUTCOMES if kind == BulkActionKind.REPLAY else CANCEL_OUTCOMES


def _one(action: SyncJobBulkAction, job: SyncJob, actor) -> str:
    why = f"{action.reason} (bulk #{action.pk})" if action.reason else f"bulk #{action.pk}"
    if action.kind == BulkActionKind.POST_NEXT_OPEN:
        return _post_next_open(action, job, actor, why)
    if action.kind == BulkActionKind.REPLAY:
        return job_replay_outcome(job=job, actor=actor, reason=why)
    try:
        job_cancel(job=job, actor=actor, reason=why)
    except SyncJobError:
        return "skipped"
    return "cancelled"


def _post_next_open(action: SyncJobBulkAction, job: SyncJob, actor, why: str) -> str:
    """Move the job into the action's period, then post it at once through the posting path
    as the person who asked (the ERP call outside any transaction)."""
    moved = job_move_to_period(
        job_id=job.pk, posting_date=action.posting_date, actor=actor, reason=why
    )
    if moved != "moved":
        return moved
    return _POSTED_AS.get(job_post(job_id=job.pk, actor=actor, batch_size=1), "queued")


def bulk_action_run(*, action_id: int) -> SyncJobBulkAction:
    """Work through the action's jobs from `done` on; complete it. Idempotent."""
    action = SyncJobBulkAction.objects.select_related("requested_by").get(pk=action_id)
    if action.state != BulkActionState.RUNNING:
        return action
    actor = action.requested_by
    counts = Counter(action.counts)
    done = action.done
    remaining = action.job_ids[done:]
    for start in range(0, len(remaining), CHUNK):
        chunk = remaining[start : start + CHUNK]
        found = {job.pk: job for job in SyncJob.objects.filter(pk__in=chunk).only("pk")}
        for pk in chunk:
            job = found.get(pk)
            counts["skipped" if job is None else _one(action, job, actor)] += 1
        done += len(chunk)
        # Progress only (no history row per chunk): the completion below writes one.
        SyncJobBulkAction.objects.filter(pk=action.pk).update(done=done, counts=dict(counts))
    with transaction.atomic():
        action = SyncJobBulkAction.objects.select_for_update().get(pk=action.pk)
        if action.state == BulkActionState.RUNNING:
            action.done, action.counts = done, dict(counts)
            action.complete()
            summary = ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in counts.items() if n)
            stamp(action, actor=actor, reason=f"completed: {summary or 'nothing to do'}")
            action.save()
    return action
