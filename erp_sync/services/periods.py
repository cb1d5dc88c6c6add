"""Closed periods in the ERP: what the ERP says about a month, moving one job held by a
closed period into another period (its document date kept), and waking held jobs when the
ERP reopens their period.

Adapters that can tell answer `period_open(day)` and `next_open_period(day)` (the sandbox
from its SandboxPeriod rows, Tryton from its account periods); for any other, or when the
ERP does not answer, these functions say they cannot tell (None) and callers fall back to
the next month. ERP calls are never made inside a transaction.
"""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from erp_sync.adapters.base import ErpError
from erp_sync.adapters.registry import adapter_for
from erp_sync.builders import build_document
from erp_sync.choices import HoldReason, SyncJobState
from erp_sync.documents import document_from_json, document_to_json
from erp_sync.errors import ErpSyncError
from erp_sync.models import Connection, SyncJob
from erp_sync.services.common import (
    erp_status_sync,
    logger,
    release_jobs,
    save_job,
    transition,
)

# How often the sweeper asks the ERP whether a closed period holding jobs has reopened
# (the sweeper itself runs every 30 s; an ERP need not be asked that often).
PERIOD_RECHECK = dt.timedelta(minutes=5)
_CHECKED_KEY = "erp_sync:periods_checked:{}"

MOVE_FIELDS = [
    "state",
    "hold_reason",
    "document",
    "posting_date",
    "next_attempt_at",
    "updated_at",
]


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return month_of(month_of(day) + dt.timedelta(days=32))


def period_open(connection: Connection, day: dt.date) -> bool | None:
    """Whether the ERP of `connection` takes postings dated `day`; None: cannot tell."""
    try:
        adapter = adapter_for(connection)
        asker = getattr(adapter, "period_open", None)
        return None if asker is None else bool(asker(day))
    except ErpError as error:
        logger.info("period check failed", extra={"connection": connection.pk, "error": str(error)})
        return None


def next_open_period(connection: Connection, day: dt.date) -> tuple[dt.date, bool]:
    """(first day of the first open period after `day`'s month, whether the ERP said so).

    When the adapter cannot tell (or the ERP did not answer, or knows no open period yet),
    the next month, with False.
    """
    try:
        adapter = adapter_for(connection)
        asker = getattr(adapter, "next_open_period", None)
        found = asker(day) if asker is not None else None
    except ErpError as error:
        logger.info("next open period failed", extra={"connection": connection.pk, "error": error})
        found = None
    if found is None:
        return next_month(day), False
    return month_of(found), True


def job_posting_day(job: SyncJob) -> dt.date | None:
    """The date the job's document is booked on (its posting date once moved)."""
    if job.posting_date:
        return job.posting_date
    try:
        return document_from_json(job.document).document_date
    except (KeyError, ValueError, TypeError):
        return None


def job_document_day(job: SyncJob) -> dt.date | None:
    """The document's own date (kept when the posting date moves)."""
    try:
        document = document_from_json(job.document)
    except (KeyError, ValueError, TypeError):
        return None
    original = document.extra.get("original_date")
    return dt.date.fromisoformat(original) if original else document.document_date


def job_move_to_period(*, job_id: int, posting_date: dt.date, actor, reason: str) -> str:
    """Move job `job_id`, held by a closed period, to `posting_date` (its document date
    kept) and release it (held → pending, not enqueued: the caller posts it). Returns
    "moved", "skipped" (gone, or no longer held by a closed period: another person moved,
    released or cancelled it; nothing is written) or "failed" (its document cannot be built
    any more; it stays held).

    Safe when two people run it at once: the job is locked and its state checked first, so
    it is moved (and its history written) once.
    """
    with transaction.atomic():
        job = (
            SyncJob.objects.select_for_update(of=("self",))
            .select_related("event", "connection")
            .filter(pk=job_id)
            .first()
        )
        if (
            job is None
            or job.state != SyncJobState.HELD
            or job.hold_reason != HoldReason.CLOSED_PERIOD
        ):
            return "skipped"
        kept = job_document_day(job)
        try:
            built = build_document(
                event=job.event, connection=job.connection, posting_date=posting_date
            )
        except ErpSyncError:
            return "failed"
        job.document = document_to_json(built.document)
        job.posting_date = posting_date
        transition(job, "release")
        date_kept = f", date {kept.isoformat()} kept" if kept else ""
        save_job(
            job,
            actor=actor,
            reason=f"moved to period {posting_date:%Y-%m}{date_kept}: {reason}",
            fields=MOVE_FIELDS,
        )
        job.mapping_rules.set(built.rules)
        erp_status_sync(job, actor=actor)
    return "moved"


def periods_next_check(connection: Connection) -> dt.datetime | None:
    """When the sweeper next asks the ERP about `connection`'s closed periods (None: at its
    next pass)."""
    checked = cache.get(_CHECKED_KEY.format(connection.pk))
    return checked + PERIOD_RECHECK if checked else None


def jobs_release_reopened(*, actor, limit: int = 1000, force: bool = False) -> int:
    """Release the jobs held by a closed period that the ERP has reopened since; how many.

    Each connection with such jobs is asked at most once per PERIOD_RECHECK (`force`: now),
    one question per month held. A month the ERP cannot tell about stays held (a person
    decides). The released jobs post as usual; their case clears as they post.
    """
    released = 0
    now = timezone.now()
    holding = (
        SyncJob.objects.filter(state=SyncJobState.HELD, hold_reason=HoldReason.CLOSED_PERIOD)
        .order_by()
        .values_list("connection_id", flat=True)
        .distinct()
    )
    for connection in Connection.objects.filter(pk__in=list(holding), is_active=True):
        key = _CHECKED_KEY.format(connection.pk)
        checked = cache.get(key)
        if not force and checked and now - checked < PERIOD_RECHECK:
            continue
        cache.set(key, now, timeout=int(PERIOD_RECHECK.total_seconds() * 4))
        held = list(
            SyncJob.objects.filter(
                connection=connection,
                state=SyncJobState.HELD,
                hold_reason=HoldReason.CLOSED_PERIOD,
            )
            .only("pk", "document", "posting_date")
            .order_by("id")[:limit]
        )
        by_month: dict[dt.date, list[int]] = {}
        for job in held:
            day = job_posting_day(job)
            if day is not None:
                by_month.setdefault(month_of(day), []).append(job.pk)
        for month, ids in sorted(by_month.items()):
            if period_open(connection, month) is not True:
                continue
            released += release_jobs(
                SyncJob.objects.filter(pk__in=ids, hold_reason=HoldReason.CLOSED_PERIOD),
                actor=actor,
                reason=f"the ERP reopened period {month:%Y-%m}: released",
            )
    return released
