"""Reads of erp_sync for the console, the API and tasks."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from django.core.cache import cache
from django.db.models import Case, CharField, Count, Q, QuerySet, Value, When
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.utils import timezone

from billing.selectors import record_for_event
from erp_sync import semaphore
from erp_sync.adapters.base import ChartAccount, ErpError
from erp_sync.adapters.registry import adapter_for
from erp_sync.choices import SyncJobState
from erp_sync.documents import BUSINESS_KEYS
from erp_sync.models import Connection, MappingRule, SyncJob, SyncJobBulkAction
from exceptions.models import Case as ExceptionCase
from exceptions.models import CaseItem
from exceptions.selectors import case_item_subject_pks

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


def case_bulk_scope(case: ExceptionCase) -> str:
    """The `scope` of the bulk actions started from a case (how they are found again)."""
    return f"case #{case.pk}"


def case_bulk_action(case: ExceptionCase) -> SyncJobBulkAction | None:
    """The latest bulk action started from `case`, if any."""
    return SyncJobBulkAction.objects.filter(scope=case_bulk_scope(case)).order_by("-id").first()


def case_blocked_periods(case: ExceptionCase) -> list[str]:
    """The months ("YYYY-MM") of the records a grouped case still blocks, oldest first."""
    periods = (
        CaseItem.objects.filter(case=case, cleared_at__isnull=True)
        .exclude(period="")
        .order_by("period")
        .values_list("period", flat=True)
        .distinct()
    )
    return list(periods)
