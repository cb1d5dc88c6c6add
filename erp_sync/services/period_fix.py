"""The fixes of a closed-period case (kind `closed_period`, on a connection, its items the
jobs the closed period holds): post them into the next open period keeping their document
dates, or wait for the ERP to reopen the period.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from config.history import stamp
from erp_sync.bulk_models import SyncJobBulkAction
from erp_sync.choices import BulkActionKind, BulkActionState, HoldReason, SyncJobState
from erp_sync.models import Connection, SyncJob
from erp_sync.services.bulk import POST_NEXT_OPEN_OUTCOMES, bulk_action_enqueue, bulk_limit
from erp_sync.services.common import SyncJobError
from erp_sync.services.periods import PERIOD_RECHECK, month_of, next_month, next_open_period
from exceptions.models import Case
from exceptions.selectors import case_item_subject_ids
from exceptions.services import case_acknowledge, case_comment_add

CASE_KIND = "closed_period"


def case_closed_month(case: Case) -> dt.date | None:
    """The first day of the month the case says is closed (its `period`, "YYYY-MM")."""
    try:
        return dt.date.fromisoformat(f"{case.period}-01")
    except ValueError:
        return None


def case_held_jobs(case: Case):
    """The jobs `case` lists that the closed period still holds."""
    return SyncJob.objects.filter(
        pk__in=[int(pk) for pk in case_item_subject_ids(case) if str(pk).isdigit()],
        state=SyncJobState.HELD,
        hold_reason=HoldReason.CLOSED_PERIOD,
    )


def case_target_period(case: Case, connection: Connection) -> tuple[dt.date, bool]:
    """(first day of the period the held jobs would be posted into, whether the ERP named
    it); asks the ERP, so never call it inside a transaction."""
    closed = case_closed_month(case)
    if closed is None:
        return next_month(dt.date.today()), False
    return next_open_period(connection, closed)


def _checked(case: Case) -> Connection:
    if case.kind != CASE_KIND or not case.is_active:
        raise SyncJobError(
            f"case #{case.pk} is not an open closed-period case", code="case_not_active"
        )
    connection = case.subject
    if not isinstance(connection, Connection):
        raise SyncJobError(f"case #{case.pk} names no ERP connection", code="case_not_active")
    return connection


def closed_period_post_start(
    *, case: Case, actor, reason: str = "", posting_date: dt.date | None = None
) -> SyncJobBulkAction:
    """Start posting every job `case` still holds into the next open period (the one the
    ERP names, else the next month; `posting_date` to insist on the one the person
    confirmed), keeping each document's date; returns the bulk action whose progress the
    console shows. Each job is moved with a history row naming `actor` and why, then posted
    through the posting path as `actor`; the case resolves as its last job posts.

    Idempotent while it runs: a second start on the same case (two people clicking at once)
    returns the action already running instead of a second one (the connection row is
    locked to decide). Raises SyncJobError: case_not_active, nothing_selected (no job is
    held any more), too_many.
    """
    connection = _checked(case)
    if posting_date is None:
        posting_date, _ = case_target_period(case, connection)
    posting_date = month_of(posting_date)
    closed = case_closed_month(case)
    if closed is not None and posting_date <= closed:
        raise SyncJobError(
            f"the documents must go into a period after {case.period}",
            code="period_not_after",
            field="posting_date",
            status=400,
        )
    with transaction.atomic():
        Connection.objects.select_for_update().filter(pk=connection.pk).first()
        running = SyncJobBulkAction.objects.filter(
            case=case, kind=BulkActionKind.POST_NEXT_OPEN, state=BulkActionState.RUNNING
        ).first()
        if running is not None:
            return running
        ids = list(case_held_jobs(case).order_by("id").values_list("pk", flat=True))
        if not ids:
            raise SyncJobError(
                "no document is held by this closed period any more", code="nothing_selected"
            )
        if len(ids) > bulk_limit():
            raise SyncJobError(f"more than {bulk_limit()} jobs are held", code="too_many")
        why = (reason or "").strip()
        action = SyncJobBulkAction(
            kind=BulkActionKind.POST_NEXT_OPEN,
            reason=why[:300],
            scope=f"case #{case.pk}: held by the closed period {case.period}",
            requested_by=actor if getattr(actor, "pk", None) else None,
            job_ids=ids,
            total=len(ids),
            counts=dict.fromkeys(POST_NEXT_OPEN_OUTCOMES, 0),
            posting_date=posting_date,
            case=case,
        )
        stamp(
            action,
            actor=actor,
            reason=f"post {len(ids)} jobs into {posting_date:%Y-%m} asked: {why}"[:100],
        )
        action.save()
        case_comment_add(
            case=case,
            actor=actor,
            body=(
                f"Posting the {len(ids)} held document{'s' if len(ids) != 1 else ''} into "
                f"{posting_date:%B %Y} (posting date {posting_date.isoformat()}), keeping "
                f"their document dates: bulk action #{action.pk}."
                + (f" Reason: {why}" if why else "")
            ),
        )
        transaction.on_commit(lambda: bulk_action_enqueue(action.pk))
    return action


def closed_period_wait(*, case: Case, actor) -> Case:
    """Leave the held jobs for the ERP to reopen the period: acknowledge the case (the
    person owns it) and note on it that the sweeper releases the jobs when the ERP reopens
    the period. Idempotent on an acknowledged case (the note is added once)."""
    _checked(case)
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        already = case.state == "acknowledged"
        case = case_acknowledge(case=case, actor=actor)
        if not already:
            minutes = int(PERIOD_RECHECK.total_seconds() // 60)
            case_comment_add(
                case=case,
                actor=actor,
                body=(
                    f"Waiting for the ERP to reopen {case.period}: the sweeper asks it every "
                    f"{minutes} minutes and posts the held documents once it is open."
                ),
            )
    return case
