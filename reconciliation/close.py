"""The close checklist of one legal entity and period: what still blocks closing the books.

Four items, each with how many records block it, a link to the list of them and the first
few of them linked one by one:
- events applied: finance events of the entity received in the period that are still
  received or quarantined (discarded ones were decided by a person);
- postings posted: sync jobs of the entity's connections created in the period that are not
  posted (cancelled ones were decided by a person);
- reconciliation clean: open breaks of the entity and period (accepted ones are fine), or
  no completed documents run of the period at all (then the count is 1: the missing run);
- settlements approved: partner settlements the entity pays, of periods inside this one,
  not approved yet (approved, posted and paid are).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.urls import NoReverseMatch, reverse

from billing.choices import FinanceEventState
from billing.models import FinanceEvent, LegalEntity
from erp_sync.choices import SyncJobState
from erp_sync.models import SyncJob
from partners.choices import FROZEN_SETTLEMENT_STATES
from partners.models import Settlement
from reconciliation.choices import BreakState, RunScope, RunState
from reconciliation.models import Break, ReconciliationRun
from reconciliation.periods import Period

# How many blocking records an item lists one by one (the link lists them all).
LISTED = 10
EVENT_BLOCKING = (FinanceEventState.RECEIVED, FinanceEventState.QUARANTINED)
JOB_DONE = (SyncJobState.POSTED, SyncJobState.CANCELLED)


@dataclass
class ChecklistItem:
    key: str
    label: str
    count: int
    url: str
    records: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.count == 0


@dataclass
class Checklist:
    entity: LegalEntity
    period: Period
    items: list[ChecklistItem]

    @property
    def ok(self) -> bool:
        return all(item.ok for item in self.items)

    @property
    def blocking(self) -> int:
        return sum(item.count for item in self.items)


def _url(name: str, *args, query: dict | list | None = None) -> str:
    try:
        url = reverse(name, args=args)
    except NoReverseMatch:
        return ""
    return f"{url}?{urlencode(query, doseq=True)}" if query else url


def _records(queryset: QuerySet, label, url) -> list[dict]:
    return [{"label": label(obj), "url": url(obj)} for obj in queryset[:LISTED]]


def latest_completed_run(entity: LegalEntity, period: Period) -> ReconciliationRun | None:
    """The newest completed documents run of exactly this entity and period."""
    return (
        ReconciliationRun.objects.filter(
            entity=entity,
            period_start=period.start,
            period_end=period.end,
            scope=RunScope.DOCUMENTS,
            state=RunState.COMPLETED,
        )
        .order_by("-finished_at", "-id")
        .first()
    )


def _events(entity: LegalEntity, period: Period) -> ChecklistItem:
    blocking = FinanceEvent.objects.filter(
        entity=entity.code, state__in=EVENT_BLOCKING, **period.instants("received_at")
    ).order_by("received_at", "id")
    query = {
        "entity": entity.code,
        "state": list(EVENT_BLOCKING),
        "received_at_after": period.since.isoformat(),
        "received_at_before": period.until.isoformat(),
    }
    return ChecklistItem(
        key="events_applied",
        label="All events applied",
        count=blocking.count(),
        url=_url("billing:event-list", query=query),
        records=_records(
            blocking.only("pk", "source", "event_id", "state"),
            lambda e: f"{e.source}/{e.event_id} ({e.state})",
            lambda e: _url("billing:event-detail", e.pk),
        ),
    )


def _postings(entity: LegalEntity, period: Period) -> ChecklistItem:
    blocking = (
        SyncJob.objects.filter(connection__entity=entity, **period.instants("created_at"))
        .exclude(state__in=JOB_DONE)
        .order_by("created_at", "id")
    )
    query = {
        "entity": entity.code,
        "state": [s for s in SyncJobState.values if s not in JOB_DONE],
        "created_after": period.since.isoformat(),
        "created_before": period.until.isoformat(),
    }
    return ChecklistItem(
        key="postings_posted",
        label="All postings posted",
        count=blocking.count(),
        url=_url("erp_sync:job-list", query=query),
        records=_records(
            blocking.only("pk", "document_type", "external_id", "state"),
            lambda j: f"{j.document_type} {j.external_id} ({j.state})",
            lambda j: _url("erp_sync:job-detail", j.pk),
        ),
    )


def _reconciliation(entity: LegalEntity, period: Period) -> ChecklistItem:
    query = {"entity": entity.code, "period_start": period.start.isoformat(), "state": "open"}
    url = _url("reconciliation:break-list", query=query)
    if latest_completed_run(entity, period) is None:
        return ChecklistItem(
            key="reconciliation_clean",
            label="Reconciliation clean or every break accepted",
            count=1,
            url=_url("reconciliation:run-list", query={"entity": entity.code}),
            records=[{"label": f"no completed run of {period.label}", "url": ""}],
        )
    blocking = Break.objects.filter(
        entity=entity, period_start=period.start, period_end=period.end, state=BreakState.OPEN
    ).order_by("kind", "key")
    return ChecklistItem(
        key="reconciliation_clean",
        label="Reconciliation clean or every break accepted",
        count=blocking.count(),
        url=url,
        records=_records(blocking, str, lambda b: _url("reconciliation:break-detail", b.pk)),
    )


def _settlements(entity: LegalEntity, period: Period) -> ChecklistItem:
    blocking = (
        Settlement.objects.filter(
            partner__paying_entity=entity,
            period_start__gte=period.start,
            period_end__lte=period.end,
        )
        .exclude(state__in=FROZEN_SETTLEMENT_STATES)
        .select_related("partner")
        .order_by("period_start", "id")
    )
    states = [s for s in blocking.model._meta.get_field("state").choices]
    query = {
        "state": [value for value, _ in states if value not in FROZEN_SETTLEMENT_STATES],
        "period_start": period.start.isoformat(),
    }
    return ChecklistItem(
        key="settlements_approved",
        label="Partner settlements approved",
        count=blocking.count(),
        url=_url("settlement-list", query=query),
        records=_records(
            blocking,
            lambda s: f"{s.partner} {s.period_start:%Y-%m} {s.currency} ({s.state})",
            lambda s: _url("settlement-detail", s.pk),
        ),
    )


def close_checklist(*, entity: LegalEntity, period: Period) -> Checklist:
    """The four items of the close checklist of `entity` and `period`, in order."""
    return Checklist(
        entity=entity,
        period=period,
        items=[
            _events(entity, period),
            _postings(entity, period),
            _reconciliation(entity, period),
            _settlements(entity, period),
        ],
    )
