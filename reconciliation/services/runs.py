"""Starting and executing reconciliation runs.

`run_start` refuses what cannot be reconciled and queues the run; the Celery task
`reconciliation.run_execute` (enqueued by name once the start commits) calls `run_execute`,
which lists the ERP's documents through the connection's adapter, stores both sides, matches,
classifies and records the breaks. Each step is its own transaction, so progress is visible
while the run works and a failure leaves the previous results (breaks, cases) as they were.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.models import LegalEntity
from config.celery import app as celery_app
from config.history import stamp
from erp_sync.adapters.base import ErpError
from erp_sync.adapters.registry import adapter_for
from erp_sync.models import Connection
from reconciliation.choices import ACTIVE_RUN_STATES, TOTALS_SCOPES, RunScope, RunState
from reconciliation.errors import ReconciliationError
from reconciliation.models import ReconciliationRun, TotalsRow
from reconciliation.services import engine_sql
from reconciliation.services.breaks import breaks_record
from reconciliation.services.snapshot import billing_snapshot_store, erp_snapshot_store
from reconciliation.services.totals import totals_breaks_record
from reconciliation.services.totals_sql import totals_store
from reconciliation.tasks import RUN_EXECUTE

logger = logging.getLogger(__name__)
# Days two documents' dates may differ for a party + amount suggestion.
DEFAULT_WINDOW_DAYS = 3
RECON_QUEUE = "recon"


def suggestion_window_days() -> int:
    return int(getattr(settings, "RECONCILIATION_SUGGESTION_WINDOW_DAYS", DEFAULT_WINDOW_DAYS))


def _connection_for(entity: LegalEntity, connection: Connection | None) -> Connection:
    active = list(Connection.objects.filter(entity=entity, is_active=True).order_by("pk"))
    if connection is not None:
        if connection not in active:
            raise ReconciliationError(
                f"connection {connection.name} is not an active ERP connection of {entity.code}",
                code="no_erp_connection", field="connection", status=400,
            )  # fmt: skip
        return connection
    if not active:
        raise ReconciliationError(
            f"legal entity {entity.code} has no active ERP connection to reconcile against",
            code="no_erp_connection", field="entity", status=400,
        )  # fmt: skip
    if len(active) > 1:
        names = ", ".join(c.name for c in active)
        raise ReconciliationError(
            f"legal entity {entity.code} has several ERP connections ({names}); name one",
            code="connection_required", field="connection", status=400,
        )  # fmt: skip
    return active[0]


def _active_run_error(run: ReconciliationRun) -> ReconciliationError:
    return ReconciliationError(
        f"run #{run.pk} of {run.entity.code} {run.scope} {run.period_start}..{run.period_end} "
        f"is already {run.state}; one run per entity, period and scope at a time",
        code="run_already_active",
    )


def run_start(
    *,
    entity: LegalEntity,
    period_start: dt.date,
    period_end: dt.date,
    actor,
    scope: str = RunScope.DOCUMENTS,
    connection: Connection | None = None,
    today: dt.date | None = None,
) -> ReconciliationRun:
    """Queue a run of `entity`, the period and `scope`; it executes once this commits.

    Raises ReconciliationError (400): `scope_not_available` (an unknown scope),
    `invalid_period`, `future_period`, `no_erp_connection`, `connection_required`; (409)
    `run_already_active` when a run of the same entity, period and scope is queued or
    running (also when two starters race: the database constraint decides).
    """
    today = today or timezone.localdate()
    if scope not in RunScope.values:
        raise ReconciliationError(
            f"unknown scope {scope!r}; one of {', '.join(RunScope.values)}",
            code="scope_not_available", field="scope", status=400,
        )  # fmt: skip
    if period_end < period_start:
        raise ReconciliationError(
            f"the period ends ({period_end}) before it starts ({period_start})",
            code="invalid_period", field="period", status=400,
        )  # fmt: skip
    if period_start > today:
        raise ReconciliationError(
            f"the period {period_start}..{period_end} is in the future (today is {today})",
            code="future_period", field="period", status=400,
        )  # fmt: skip
    connection = _connection_for(entity, connection)
    with transaction.atomic():
        active = (
            ReconciliationRun.objects.select_related("entity")
            .filter(
                entity=entity,
                period_start=period_start,
                period_end=period_end,
                scope=scope,
                state__in=ACTIVE_RUN_STATES,
            )
            .first()
        )
        if active is not None:
            raise _active_run_error(active)
        run = ReconciliationRun(
            entity=entity,
            connection=connection,
            period_start=period_start,
            period_end=period_end,
            scope=scope,
            requested_by=actor if actor is not None and actor.pk else None,
        )
        stamp(run, actor=actor, reason=f"queued {scope} {period_start}..{period_end}")
        try:
            with transaction.atomic():
                run.save(force_insert=True)
        except IntegrityError:
            # A concurrent starter won the one-active-run constraint.
            raise _active_run_error(
                ReconciliationRun.objects.select_related("entity")
                .filter(entity=entity, period_start=period_start, period_end=period_end)
                .filter(scope=scope, state__in=ACTIVE_RUN_STATES)
                .first()
                or run
            ) from None
        run_enqueue(run.pk)
    return run


def run_enqueue(run_id: int) -> None:
    """Send `reconciliation.run_execute` by name once the current transaction commits."""

    def send() -> None:
        if celery_app.conf.task_always_eager:
            # send_task never runs inline; without a broker the task runs here.
            celery_app.tasks[RUN_EXECUTE].apply(kwargs={"run_id": run_id})
        else:
            celery_app.send_task(RUN_EXECUTE, kwargs={"run_id": run_id}, queue=RECON_QUEUE)

    transaction.on_commit(send)


def _locked(run_id: int) -> ReconciliationRun:
    return (
        ReconciliationRun.objects.select_for_update(of=("self",))
        .select_related("entity", "connection")
        .get(pk=run_id)
    )


def _progress(run_id: int, *, step: str, done: int = 0, total: int = 0, **counts) -> None:
    with transaction.atomic():
        run = _locked(run_id)
        run.progress_step, run.progress_done, run.progress_total = step, done, total
        for name, value in counts.items():
            setattr(run, name, value)
        run.save(update_fields=["progress_step", "progress_done", "progress_total", *counts])


def run_fail(*, run_id: int, reason: str, actor) -> ReconciliationRun:
    """Mark a queued or running run failed with `reason`. Idempotent on a finished run."""
    with transaction.atomic():
        run = _locked(run_id)
        if run.state not in ACTIVE_RUN_STATES:
            return run
        run.fail(reason=reason)
        stamp(run, actor=actor, reason=f"failed: {reason}")
        run.save(update_fields=["state", "failure_reason", "finished_at"])
    return run


def run_execute(*, run_id: int, actor) -> ReconciliationRun:
    """Execute a queued run: list, store, match, classify, record breaks, complete.

    A no-op returning the run unchanged unless it is queued (a redelivered message). An
    ErpError while listing fails the run with the ERP's message and returns it; any other
    error fails the run and is raised. A failed run changes no break and no case.
    """
    with transaction.atomic():
        run = _locked(run_id)
        if run.state != RunState.QUEUED:
            return run
        run.start()
        stamp(run, actor=actor, reason="started")
        run.save(update_fields=["state", "started_at", "progress_step"])
    if run.scope in TOTALS_SCOPES:
        try:
            return _totals_and_record(run, actor=actor)
        except Exception as error:
            logger.exception("reconciliation run %s failed", run_id)
            run_fail(run_id=run_id, reason=f"comparing failed: {error!r}", actor=actor)
            raise
    try:
        erp_rows = _list_and_store(run)
    except ErpError as error:
        return run_fail(run_id=run_id, reason=f"the ERP listing failed: {error}", actor=actor)
    except Exception as error:
        run_fail(run_id=run_id, reason=f"the ERP listing failed: {error!r}", actor=actor)
        raise
    try:
        return _match_and_record(run, erp_rows, actor=actor)
    except Exception as error:
        logger.exception("reconciliation run %s failed", run_id)
        run_fail(run_id=run_id, reason=f"matching failed: {error!r}", actor=actor)
        raise


def _list_and_store(run: ReconciliationRun) -> int:
    """Store the ERP's listing page by page as it arrives (one page in memory at a time);
    progress counts the rows stored. Returns how many."""
    pages = adapter_for(run.connection).document_pages(
        run.entity.code, run.period_start, run.period_end
    )
    stored = 0
    for page in pages:
        stored += erp_snapshot_store(run=run, listed=page)
        _progress(run.pk, step="listing", done=stored)
    return stored


def run_match(run_id: int) -> tuple[dict[str, int], list[tuple[str, int | None, int | None]]]:
    """The engine's part of a run whose snapshot is stored: apply the match rules in order,
    then classify what differs or is unpaired. In the caller's transaction. Returns the rows
    each rule wrote and the findings (kind, billing row id or None, ERP row id or None)."""
    written = engine_sql.match_all(run_id, window_days=suggestion_window_days())
    return written, engine_sql.breaks_found(run_id)


def _match_and_record(run: ReconciliationRun, erp_rows: int, *, actor) -> ReconciliationRun:
    with transaction.atomic():
        billing_rows = billing_snapshot_store(run=run)
    # The planner's statistics of the snapshot just stored, before any rule reads it (the
    # last step of loading; engine_sql.match_all relies on it).
    engine_sql.analyze("bill", "erp")
    _progress(
        run.pk,
        step="matching",
        total=erp_rows + billing_rows,
        erp_row_count=erp_rows,
        billing_row_count=billing_rows,
    )
    with transaction.atomic():
        run = _locked(run.pk)
        written, findings = run_match(run.pk)
        breaks = breaks_record(run=run, findings=findings, actor=actor)
        suggested = written["suggested"]
        matched = sum(written.values()) - suggested
        run.progress_done = run.progress_total
        run.complete(matched=matched, suggested=suggested, breaks=breaks)
        stamp(run, actor=actor, reason=f"completed: {matched} matched, {breaks} breaks")
        run.save()
    return run


def _totals_and_record(run: ReconciliationRun, *, actor) -> ReconciliationRun:
    """The usage and partners scopes: both sides are Concord's own records, compared as
    totals per subject in one transaction (no ERP listing)."""
    _progress(run.pk, step="matching")
    with transaction.atomic():
        run = _locked(run.pk)
        engine_sql.no_jit()
        subjects = totals_store(run)
        sides = TotalsRow.objects.filter(run=run)
        run.billing_row_count = sides.filter(expected_count__gt=0).count()
        run.erp_row_count = sides.filter(actual_count__gt=0).count()
        breaks = totals_breaks_record(run=run, actor=actor)
        run.progress_done = run.progress_total = subjects
        run.complete(matched=subjects - breaks, suggested=0, breaks=breaks)
        stamp(run, actor=actor, reason=f"completed: {subjects} subjects, {breaks} breaks")
        run.save()
    return run
