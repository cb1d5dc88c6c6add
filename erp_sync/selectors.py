"""Reads of erp_sync for the console, the API and tasks."""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping

from django.core.cache import cache
from django.db import connection as db_connection
from django.db.models import (
    Aggregate,
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.utils import timezone

from billing.selectors import record_for_event
from erp_sync import semaphore
from erp_sync.adapters.base import ChartAccount, ErpError
from erp_sync.adapters.registry import adapter_for
from erp_sync.choices import HoldReason, SyncJobState
from erp_sync.documents import BUSINESS_KEYS
from erp_sync.models import Connection, MappingRule, SyncJob, SyncJobBulkAction
from exceptions.models import Case as ExceptionCase
from exceptions.selectors import (
    case_first_item_subject_pk,
    case_item_subject_pks,
)

logger = logging.getLogger(__name__)

# --- rules and connections ----------------------------------------------------------------


def mapping_rule_list() -> QuerySet[MappingRule]:
    """Every rule version, most specific first, then by name and newest version."""
    return MappingRule.objects.select_related("supersedes").order_by(
        "-is_active", "-specificity", "name", "-version", "-id"
    )


def mapping_rule_get(pk: int | str) -> MappingRule:
    """One rule version. Raises MappingRule.DoesNotExist."""
    return MappingRule.objects.select_related("supersedes").get(pk=pk)


def mapping_rule_versions(rule: MappingRule) -> list[MappingRule]:
    """Every version of `rule`'s lineage (the supersedes chain), newest first."""
    versions = [rule]
    older = rule.supersedes
    while older is not None:
        versions.append(older)
        older = older.supersedes
    newer = MappingRule.objects.filter(supersedes=rule).first()
    while newer is not None:
        versions.insert(0, newer)
        newer = MappingRule.objects.filter(supersedes=newer).first()
    return versions


def connection_list() -> QuerySet[Connection]:
    """Connections with their entity and the number of maintenance windows not yet over."""
    return (
        Connection.objects.select_related("entity")
        .annotate(
            upcoming_windows=Count(
                "maintenance_windows", filter=Q(maintenance_windows__ends_at__gt=timezone.now())
            )
        )
        .order_by("name")
    )


def connection_get(pk: int | str) -> Connection:
    """One connection with its entity and maintenance windows. Raises Connection.DoesNotExist."""
    return (
        Connection.objects.select_related("entity")
        .prefetch_related("maintenance_windows")
        .get(pk=pk)
    )


# --- sync jobs (job engine) ---------------------------------------------------------------


def business_number() -> Case:
    """The number a person knows a job's document by (invoice id, payment id, ...): the
    key BUSINESS_KEYS names for the event's type, read from its data in the database (only
    that key travels, not the body)."""
    data = KeyTransform("data", "event__body")
    return Case(
        *[
            When(event__type=event_type, then=KeyTextTransform(key, data))
            for event_type, key in BUSINESS_KEYS.items()
        ],
        default=Value(""),
        output_field=CharField(),
    )


def sync_job_list(*, filters: Mapping | None = None) -> QuerySet[SyncJob]:
    """Sync jobs, newest first, with event, connection and entity joined (bodies deferred)
    and each document's `business_number`.

    `filters` are SyncJobFilterSet parameters (as in a query string).
    """
    queryset = (
        SyncJob.objects.select_related("event", "connection", "connection__entity")
        .defer("document", "event__body", "event__result")
        .annotate(business_number=business_number())
        .order_by("-id")
    )
    if filters:
        from erp_sync.filters import SyncJobFilterSet

        queryset = SyncJobFilterSet(filters, queryset=queryset).qs
    return queryset


def bulk_action_get(pk: int | str) -> SyncJobBulkAction:
    """One bulk replay / cancel. Raises SyncJobBulkAction.DoesNotExist."""
    return SyncJobBulkAction.objects.select_related("requested_by").get(pk=pk)


def bulk_action_jobs(action: SyncJobBulkAction, *, limit: int = 50) -> list[SyncJob]:
    """The first `limit` jobs of a bulk action, in its order, as the job list shows them."""
    return list(sync_job_list().filter(pk__in=action.job_ids[:limit]).order_by("id"))


def sync_job_get(pk: int | str) -> SyncJob:
    """One job with its attempts and mapping rules. Raises SyncJob.DoesNotExist."""
    return (
        SyncJob.objects.select_related("event", "connection", "connection__entity")
        .prefetch_related("attempt_log", "mapping_rules")
        .get(pk=pk)
    )


def sync_job_state_counts(queryset: QuerySet[SyncJob] | None = None) -> dict[str, int]:
    """How many jobs are in each state (every state present, zeros included)."""
    queryset = SyncJob.objects.all() if queryset is None else queryset
    counts = dict.fromkeys(SyncJobState.values, 0)
    rows = queryset.order_by().values_list("state").annotate(n=Count("id"))
    counts.update({state: n for state, n in rows})
    return counts


def sync_job_lineage(job: SyncJob) -> dict:
    """event (source/id/type) → billing record → job → ERP document, for one job."""
    event = job.event
    record = record_for_event(event)
    return {
        "event": {
            "source": event.source,
            "id": event.event_id,
            "type": event.type,
            "state": event.state,
        },
        "record": (
            {
                "kind": record._meta.model_name,
                "id": str(record),
                "erp_status": getattr(record, "erp_status", ""),
            }
            if record is not None
            else None
        ),
        "job": {"id": job.pk, "state": job.state, "external_id": job.external_id},
        "erp": {"id": job.erp_id, "number": job.erp_number} if job.erp_number else None,
    }


def connection_in_flight(connection: Connection) -> int:
    """Calls to `connection`'s ERP holding a semaphore slot now."""
    return semaphore.in_flight(connection)


# --- guided fixes of cases ----------------------------------------------------------------

# A chart changes rarely; a person filling a rule form should not wait for the ERP each time.
CHART_CACHE_SECONDS = 300


def connection_chart(connection: Connection) -> list[ChartAccount] | None:
    """The chart of accounts of `connection`'s ERP, read through its adapter and cached for
    CHART_CACHE_SECONDS; None when the ERP does not answer (not cached, so the next read
    asks again)."""
    key = f"erp_sync:chart:{connection.pk}"
    chart = cache.get(key)
    if chart is not None:
        return chart
    try:
        chart = adapter_for(connection).chart_of_accounts()
    except ErpError:
        logger.warning("chart of accounts of %s not read", connection.name, exc_info=True)
        return None
    cache.set(key, chart, CHART_CACHE_SECONDS)
    return chart


def case_blocked_jobs(case: ExceptionCase) -> QuerySet[SyncJob]:
    """The sync jobs a case grouped by cause on a connection still blocks (its open items),
    with their events; empty for any other case."""
    if not case.cause_key or case.subject_type.model_class() is not Connection:
        return SyncJob.objects.none()
    return (
        SyncJob.objects.filter(
            pk__in=case_item_subject_pks(case, SyncJob), connection_id=case.subject_id
        )
        .select_related("event", "connection")
        .order_by("id")
    )


def case_first_blocked_job(case: ExceptionCase) -> SyncJob | None:
    """The job of a grouped case's oldest open item, with its event and connection; None
    when it blocks none (or is not a case grouped on a connection)."""
    if not case.cause_key or case.subject_type.model_class() is not Connection:
        return None
    first = case_first_item_subject_pk(case, SyncJob, connection_id=int(case.subject_id))
    return SyncJob.objects.filter(pk=first).select_related("event", "connection").first()


def case_bulk_scope(case: ExceptionCase) -> str:
    """The `scope` of the bulk actions started from a case (how they are found again)."""
    return f"case #{case.pk}"


def case_bulk_action(case: ExceptionCase) -> SyncJobBulkAction | None:
    """The latest bulk action started from `case`, if any."""
    return SyncJobBulkAction.objects.filter(scope=case_bulk_scope(case)).order_by("-id").first()


# --- the dashboard's posting figures ------------------------------------------------------


# The dashboard counts posted jobs of this last stretch only: every other state is work in
# progress or a problem, counted in full through the (state, connection) index; posted jobs
# are nearly all rows and would make the count a scan of the whole history (1M jobs on
# PostgreSQL: 590 ms for the full group-by, 31 ms + 85 ms for these two, docs/decisions.md).
POSTED_WINDOW = dt.timedelta(days=1)


def sync_job_board(*, now: dt.datetime | None = None) -> dict:
    """Jobs by state per connection (with its entity), and the held ones by reason. Posted
    jobs are those posted within POSTED_WINDOW up to `now` (`posted_since`); every other
    state counts every job in it.

    {"states": [(value, label)], "posted_since", "connections": [{"id", "name", "entity",
    "counts": {state: n}, "total"}], "entities": [{"entity", "counts", "total"}], "totals":
    {state: n}, "held_by_reason": [{"reason", "label", "count"}]}. Four queries, whatever
    the number of jobs, each an index scan.
    """
    now = now or timezone.now()
    since = now - POSTED_WINDOW
    states = SyncJobState.values
    unposted = [state for state in states if state != SyncJobState.POSTED]
    rows = (
        SyncJob.objects.filter(state__in=unposted)
        .order_by()
        .values_list("connection_id", "state")
        .annotate(n=Count("*"))
    )
    posted = (
        SyncJob.objects.filter(posted_at__gte=since, posted_at__lte=now)
        .order_by()
        .values_list("connection_id")
        .annotate(n=Count("*"))
    )
    by_connection: dict[int, dict[str, int]] = {}
    for connection_id, state, n in rows:
        by_connection.setdefault(connection_id, dict.fromkeys(states, 0))[state] = n
    for connection_id, n in posted:
        by_connection.setdefault(connection_id, dict.fromkeys(states, 0))[SyncJobState.POSTED] = n
    connections, entities = [], {}
    for conn in Connection.objects.select_related("entity").order_by("entity__code", "name"):
        counts = by_connection.get(conn.pk)
        if counts is None:
            continue
        connections.append(
            {
                "id": conn.pk,
                "name": conn.name,
                "entity": conn.entity.code,
                "counts": counts,
                "total": sum(counts.values()),
            }
        )
        entity = entities.setdefault(
            conn.entity.code,
            {"entity": conn.entity.code, "counts": dict.fromkeys(states, 0), "total": 0},
        )
        for state, n in counts.items():
            entity["counts"][state] += n
            entity["total"] += n
    totals = {state: sum(c["counts"][state] for c in connections) for state in states}
    labels = dict(HoldReason.choices)
    held = (
        SyncJob.objects.filter(state=SyncJobState.HELD)
        .order_by()
        .values_list("hold_reason")
        .annotate(n=Count("id"))
    )
    return {
        "states": list(SyncJobState.choices),
        "posted_since": since,
        "connections": connections,
        "entities": list(entities.values()),
        "totals": totals,
        "held_by_reason": sorted(
            (
                {"reason": reason, "label": labels.get(reason, reason or "—"), "count": n}
                for reason, n in held
            ),
            key=lambda r: (-r["count"], r["reason"]),
        ),
    }


class PercentileCont(Aggregate):
    """PostgreSQL's continuous percentile (linear interpolation between the two nearest
    values) of an ordered set: `percentile_cont(fraction) WITHIN GROUP (ORDER BY expr)`."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression, *, fraction: float, **extra):
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must lie between 0 and 1")
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def percentile_cont(sorted_values: list[float], fraction: float) -> float | None:
    """`percentile_cont` of PostgreSQL in Python, over ascending values (None for none)."""
    if not sorted_values:
        return None
    position = fraction * (len(sorted_values) - 1)
    below, above = math.floor(position), math.ceil(position)
    low, high = sorted_values[below], sorted_values[above]
    return low + (high - low) * (position - below)


# Latency windows of the dashboard: (key, label, length).
LATENCY_WINDOWS = (
    ("24h", "Last 24 hours", dt.timedelta(days=1)),
    ("7d", "Last 7 days", dt.timedelta(days=7)),
)
# Without percentile_cont (SQLite) the percentiles are of the most recent postings only.
LATENCY_SAMPLE = 20_000


def _seconds(value) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    return round(seconds, 3)


def posting_latency(*, now: dt.datetime | None = None) -> list[dict]:
    """Job created → posted (SyncJob.created_at → posted_at) of the jobs posted in each of
    LATENCY_WINDOWS up to `now`: [{"window", "label", "since", "postings", "p50_seconds",
    "p95_seconds", "sampled"}], percentiles continuous (interpolated), None without
    postings. PostgreSQL: one query with percentile_cont over the posted_at index. Elsewhere
    two queries, the percentiles of the latest LATENCY_SAMPLE postings (`sampled` says so).
    """
    now = now or timezone.now()
    longest = max(length for _, _, length in LATENCY_WINDOWS)
    jobs = SyncJob.objects.filter(posted_at__gte=now - longest, posted_at__lte=now).order_by()
    duration = ExpressionWrapper(F("posted_at") - F("created_at"), output_field=DurationField())
    # Counting posted_at, not id: the columns read are all in the posted index.
    counts = {
        key: Count("posted_at", filter=Q(posted_at__gte=now - length))
        for key, _, length in LATENCY_WINDOWS
    }
    if db_connection.vendor == "postgresql":
        figures = jobs.aggregate(
            **{f"{key}_postings": count for key, count in counts.items()},
            **{
                f"{key}_p{p}": PercentileCont(
                    duration, fraction=p / 100, filter=Q(posted_at__gte=now - length)
                )
                for key, _, length in LATENCY_WINDOWS
                for p in (50, 95)
            },
        )
        sample = None
    else:
        figures = jobs.aggregate(**{f"{key}_postings": count for key, count in counts.items()})
        sample = list(
            jobs.order_by("-posted_at").values_list("posted_at", "created_at")[:LATENCY_SAMPLE]
        )
    windows = []
    for key, label, length in LATENCY_WINDOWS:
        since = now - length
        postings = figures[f"{key}_postings"]
        if sample is None:
            p50, p95 = figures[f"{key}_p50"], figures[f"{key}_p95"]
            sampled = False
        else:
            values = sorted(
                (posted - created).total_seconds() for posted, created in sample if posted >= since
            )
            p50, p95 = percentile_cont(values, 0.5), percentile_cont(values, 0.95)
            sampled = len(values) < postings
        windows.append(
            {
                "window": key,
                "label": label,
                "since": since,
                "postings": postings,
                "p50_seconds": _seconds(p50),
                "p95_seconds": _seconds(p95),
                "sampled": sampled,
            }
        )
    return windows
