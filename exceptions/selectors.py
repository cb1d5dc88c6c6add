"""Reads of cases for the console, the API and other apps."""

from collections.abc import Iterable, Mapping

from django.db import models
from django.db.models import Count, Q, QuerySet, Sum
from django.http import QueryDict
from django.utils import timezone

from exceptions.filters import AGE_CHOICES, SLA_CHOICES, CaseFilterSet, age_q, sla_q
from exceptions.kinds import CaseKind
from exceptions.models import (
    ACTIVE_STATES,
    Case,
    CaseComment,
    CaseItem,
    CaseSeverity,
    SavedCaseFilter,
)
from exceptions.services import subject_key


def case_list(*, filters: Mapping | None = None) -> QuerySet[Case]:
    """Cases, newest activity first, with subject type and owner joined.

    `filters` are CaseFilterSet parameters (as in a query string); invalid values are ignored.
    """
    queryset = Case.objects.select_related("subject_type", "owner", "owner_group")
    if filters:
        queryset = CaseFilterSet(filters, queryset=queryset).qs
    return queryset


def case_get(pk: int | str) -> Case:
    """One case with its comments' authors prefetched. Raises Case.DoesNotExist."""
    comments = CaseComment.objects.select_related("author")
    return case_list().prefetch_related(models.Prefetch("comments", queryset=comments)).get(pk=pk)


def cases_for_subject(subject: models.Model) -> QuerySet[Case]:
    """Every case ever raised on `subject`, in any state."""
    subject_type, subject_id = subject_key(subject)
    return case_list().filter(subject_type=subject_type, subject_id=subject_id)


def cases_blocking(
    *,
    entity: str | None = None,
    customers: Iterable[str] | None = None,
    partner: str | None = None,
    period: str | None = None,
) -> QuerySet[Case]:
    """Open/acknowledged blocking cases that hold work in the given scope.

    A blank scope key on a case means the case is not narrowed on it and so holds every
    value (a case on a whole entity holds each of its customers). `customers` and `partner`
    are one dimension: a case matches when its customer is one of `customers` or its
    partner is `partner`, or when it names neither. Omitted arguments do not filter.
    """
    queryset = case_list().filter(state__in=ACTIVE_STATES, blocking=True)
    if entity is not None:
        queryset = queryset.filter(Q(entity=entity) | Q(entity=""))
    if period is not None:
        queryset = queryset.filter(Q(period=period) | Q(period=""))
    if customers is not None or partner is not None:
        who = Q(customer="", partner="")
        if customers is not None:
            who |= Q(customer__in=list(customers))
        if partner is not None:
            who |= Q(partner=partner)
        queryset = queryset.filter(who)
    return queryset


def case_item_subject_ids(case: Case, *, open_only: bool = True) -> list[str]:
    """The subject ids of a grouped case's items (its blocked records), oldest first."""
    items = case.items.order_by("added_at", "id")
    if open_only:
        items = items.filter(cleared_at__isnull=True)
    return list(items.values_list("subject_id", flat=True))


# What the counts at the top of the queue ignore of the current filter: the counts are the
# choices of these filters themselves.
_COUNT_IGNORES = ("kind", "sla", "overdue", "escalated", "sort", "cursor", "page_size")


def case_counts(*, filters: Mapping | None = None) -> dict:
    """Counts for the top of the queue, under the current filter (but its kind and SLA):
    {"by_kind": [{"kind", "label", "count"}], "by_sla": {"breached", "due_soon", "on_time",
    "escalated"}, "total"}. Of open/acknowledged cases unless the filter names states. Two
    queries, whatever the number of cases."""
    params = QueryDict(mutable=True)
    for key in filters or {}:
        if key not in _COUNT_IGNORES:
            values = filters.getlist(key) if hasattr(filters, "getlist") else [filters[key]]
            params.setlist(key, values)
    queryset = Case.objects.all()
    if params:
        queryset = CaseFilterSet(params, queryset=queryset).qs
    if not params.getlist("state"):
        queryset = queryset.filter(state__in=ACTIVE_STATES)
    by_kind = (
        queryset.order_by().values("kind").annotate(count=Count("id")).order_by("-count", "kind")
    )
    sla = queryset.order_by().aggregate(
        **{key: Count("id", filter=sla_q(key)) for key, _ in SLA_CHOICES},
        escalated=Count("id", filter=Q(escalated_at__isnull=False)),
        total=Count("id"),
    )
    labels = dict(CaseKind.choices)
    return {
        "by_kind": [
            {"kind": row["kind"], "label": labels.get(row["kind"], row["kind"]), "count": n}
            for row in by_kind
            for n in (row["count"],)
        ],
        "by_sla": {key: sla[key] for key in (*(k for k, _ in SLA_CHOICES), "escalated")},
        "total": sla["total"],
    }


def case_items(case: Case, *, limit: int = 100) -> list[CaseItem]:
    """The first `limit` blocked records of a grouped case still blocked, oldest first."""
    return list(
        case.items.filter(cleared_at__isnull=True)
        .select_related("subject_type")
        .order_by("added_at", "id")[:limit]
    )


def case_item_totals(case: Case) -> list[dict]:
    """What a grouped case blocks: [{"currency", "count", "value"}] of its open items (value
    a Decimal, summed per currency, never across). One query."""
    rows = (
        case.items.filter(cleared_at__isnull=True)
        .order_by()
        .values("currency")
        .annotate(count=Count("id"), value=Sum("value_amount"))
        .order_by("currency")
    )
    return [dict(row) for row in rows]


def saved_filters(user) -> QuerySet[SavedCaseFilter]:
    """The queue filters `user` saved."""
    return SavedCaseFilter.objects.filter(user=user).order_by("name", "id")


def case_backlog(*, now=None) -> dict:
    """The backlog now: open and acknowledged cases by kind, severity and age since first
    seen, in the queue's age buckets (exceptions.filters.AGE_BUCKETS, so each count is
    what the queue filtered by the same kind/severity/age lists).

    {"total", "severities": [(value, label)], "ages": [(value, label)],
     "by_kind": [{"kind", "label", "total", "by_severity": {severity: n}}] (largest first),
     "by_age": [{"age", "label", "total", "by_severity": {severity: n}}] (youngest first)}.
    One query grouped by (kind, severity), whatever the number of cases.
    """
    now = now or timezone.now()
    # Counting first_seen_at (never null), not id: every column read is in the partial
    # backlog index, so PostgreSQL can answer from the index alone.
    ages = {age: Count("first_seen_at", filter=age_q(age, now)) for age, _ in AGE_CHOICES}
    rows = (
        Case.objects.filter(state__in=ACTIVE_STATES)
        .order_by()
        .values("kind", "severity")
        .annotate(total=Count("first_seen_at"), **ages)
    )
    severities = CaseSeverity.values
    kind_labels = dict(CaseKind.choices)
    by_kind: dict[str, dict] = {}
    by_age = {
        age: {"age": age, "label": label, "total": 0, "by_severity": dict.fromkeys(severities, 0)}
        for age, label in AGE_CHOICES
    }
    for row in rows:
        kind = by_kind.setdefault(
            row["kind"],
            {
                "kind": row["kind"],
                "label": kind_labels.get(row["kind"], row["kind"]),
                "total": 0,
                "by_severity": dict.fromkeys(severities, 0),
            },
        )
        kind["total"] += row["total"]
        kind["by_severity"][row["severity"]] += row["total"]
        for age in by_age:
            by_age[age]["total"] += row[age]
            by_age[age]["by_severity"][row["severity"]] += row[age]
    return {
        "total": sum(kind["total"] for kind in by_kind.values()),
        "severities": list(CaseSeverity.choices),
        "ages": list(AGE_CHOICES),
        "by_kind": sorted(by_kind.values(), key=lambda k: (-k["total"], k["kind"])),
        "by_age": list(by_age.values()),
    }
