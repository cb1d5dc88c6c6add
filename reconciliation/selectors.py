"""Reads of reconciliation used by the API, the console and tasks."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from reconciliation.choices import BreakKind, BreakState
from reconciliation.models import Break, Match, ReconciliationRun


def run_list() -> QuerySet[ReconciliationRun]:
    """Runs, newest first, with their entity and connection."""
    return ReconciliationRun.objects.select_related("entity", "connection").order_by(
        "-created_at", "-id"
    )


def run_get(pk: int | str) -> ReconciliationRun:
    """One run. Raises ReconciliationRun.DoesNotExist (or ValueError for a malformed pk)."""
    return run_list().get(pk=int(pk))


def break_list(*, run: ReconciliationRun | None = None) -> QuerySet[Break]:
    """Breaks; for `run`, those of its entity, period and scope that it found (last seen)."""
    queryset = Break.objects.select_related("entity").order_by("kind", "key")
    if run is not None:
        queryset = queryset.filter(last_seen_run=run)
    return queryset


def break_get(pk: int | str) -> Break:
    return break_list().get(pk=int(pk))


def match_list(*, run: ReconciliationRun | None = None) -> QuerySet[Match]:
    """Matches with both sides, in id order."""
    queryset = Match.objects.select_related("billing_row", "erp_row").order_by("id")
    if run is not None:
        queryset = queryset.filter(run=run)
    return queryset


def open_break_counts() -> list[dict]:
    """Open breaks by kind, most first: [{"kind", "label", "count"}]. One query."""
    labels = dict(BreakKind.choices)
    rows = (
        Break.objects.filter(state=BreakState.OPEN)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("id"))
    )
    return sorted(
        ({"kind": kind, "label": labels.get(kind, kind), "count": n} for kind, n in rows),
        key=lambda r: (-r["count"], r["kind"]),
    )
