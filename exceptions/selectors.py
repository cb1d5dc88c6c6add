"""Reads of cases for the console, the API and other apps."""

import json
import re
from collections.abc import Iterable, Mapping

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.db.models import BigIntegerField, Count, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast
from django.http import QueryDict
from django.utils import timezone

from exceptions.filters import AGE_CHOICES, DUE_SOON, SLA_CHOICES, CaseFilterSet, age_q, sla_q
from exceptions.kinds import CaseKind
from exceptions.models import (
    ACTIVE_STATES,
    Case,
    CaseComment,
    CaseItem,
    CaseSeverity,
    CaseState,
    SavedCaseFilter,
)
from exceptions.services import subject_key
from exceptions.summaries import (
    case_counts_sql,
    kept_open_item_groups,
    plain_case_counts,
    plain_open_item_groups,
    read_case_counts,
    summary_in_use,
)


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


def open_cases_touching(
    subjects: Iterable[models.Model], *, partner: str = "", limit: int = 50
) -> list[Case]:
    """Open/acknowledged cases raised on any of `subjects` or blocking one of them as an item
    of a grouped case (a sync job waiting for a mapping rule), oldest deadline first; with
    `partner`, also the cases scoped to that partner id.

    For a record page's "Open cases": pass the record and its neighbours (its event, its
    sync jobs). One query, whatever the number of subjects (content types are cached).
    """
    ids_by_type: dict[int, set[str]] = {}
    for subject in subjects:
        if subject is None or subject.pk is None:
            continue
        subject_type = ContentType.objects.get_for_model(subject)
        ids_by_type.setdefault(subject_type.pk, set()).add(str(subject.pk))
    if not ids_by_type and not partner:
        return []
    # The same condition reads a case's subject and an item's (both have these two fields).
    is_subject = Q(pk__in=[])
    for type_id, ids in ids_by_type.items():
        is_subject |= Q(subject_type_id=type_id, subject_id__in=ids)
    # The cases' ids as a union, each part from its own index (a case's subject, an item's
    # subject, a partner): the same condition written as one OR with an EXISTS made
    # PostgreSQL walk every active case in deadline order (bench_console: 3 s an invoice
    # page on a million cases).
    parts = []
    if ids_by_type:
        parts.append(Case.objects.filter(is_subject).order_by().values("pk"))
        parts.append(
            CaseItem.objects.filter(is_subject, cleared_at__isnull=True)
            .order_by()
            .values("case_id")
        )
    if partner:
        parts.append(Case.objects.filter(partner=partner).order_by().values("pk"))
    touching = parts[0].union(*parts[1:]) if len(parts) > 1 else parts[0]
    return list(
        case_list()
        .filter(state__in=ACTIVE_STATES, pk__in=touching)
        .order_by(models.F("sla_due_at").asc(nulls_last=True), "-id")[:limit]
    )


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


def case_first_item_subject_pk(case: Case, model, **equal) -> RawSQL:
    """A one-row subquery: the primary key of the record of a grouped case's oldest open
    item that is a `model` row whose fields equal `equal` (`connection_id=3`), walking the
    items' (case, added_at, id) index in order (ordering all of them sorted bench_console's
    10,000 items, 5 ms, for one row). For `model.objects.filter(pk=...)`.

    Written as SQL from the models' `_meta`: bench_console's grouped case spent 1.5 ms building
    and compiling the same query through the ORM (a subquery with an EXISTS and casts), more
    than PostgreSQL took to run it. tests/exceptions/test_case_first_item.py checks it
    against that ORM query."""
    quote = connection.ops.quote_name
    item = CaseItem._meta
    column = {name: f"i.{quote(item.get_field(name).column)}" for name in
              ("case", "cleared_at", "subject_type", "subject_id", "added_at", "id")}  # fmt: skip
    record_pk = f"CAST({column['subject_id']} AS BIGINT)"
    matches = "".join(f" AND r.{quote(model._meta.get_field(name).column)} = %s" for name in equal)
    # Names from `_meta` and fixed fragments only; every value is a parameter.
    sql = (
        f"SELECT {record_pk} FROM {quote(item.db_table)} i"  # noqa: S608
        f" WHERE {column['case']} = %s AND {column['cleared_at']} IS NULL"
        f" AND {column['subject_type']} = %s"
        f" AND EXISTS (SELECT 1 FROM {quote(model._meta.db_table)} r"
        f" WHERE r.{quote(model._meta.pk.column)} = {record_pk}{matches})"
        f" ORDER BY {column['added_at']}, {column['id']} LIMIT 1"
    )
    subject_type = ContentType.objects.get_for_model(model)
    return RawSQL(sql, (case.pk, subject_type.pk, *equal.values()))  # noqa: S611


def case_item_subject_pks(case: Case | int, model) -> QuerySet:
    """A subquery of the integer primary keys of the `model` records a grouped case (or the
    case of that id) still blocks (its open items), for `model.objects.filter(pk__in=...)`:
    the database joins it, rather than a list of 10,000 ids sent back as parameters
    (bench_console: 180 ms of Python building such a query for one `.first()`)."""
    case_id = case.pk if isinstance(case, Case) else case
    return (
        CaseItem.objects.filter(
            case_id=case_id,
            cleared_at__isnull=True,
            subject_type=ContentType.objects.get_for_model(model),
        )
        .order_by()
        .values_list(Cast("subject_id", BigIntegerField()), flat=True)
    )


# What the counts at the top of the queue ignore of the current filter: the counts are the
# choices of these filters themselves.
_COUNT_IGNORES = ("kind", "sla", "overdue", "escalated", "sort", "cursor", "page_size")


# Each count stops at this many cases. Counting every one of a million open cases at each look
# at the queue cost seconds (bench_console, docs/benchmarks.md); past the cap a person needs
# "more than a thousand", not the exact figure. The total is then the planner's estimate.
COUNT_CAP = 1000


def _capped_sql(queryset: QuerySet, cap: int) -> tuple[str, list]:
    """`queryset`'s first cap + 1 rows as SQL selecting a constant (so that an index alone
    can answer it), with its parameters."""
    limited = queryset.order_by().annotate(one=Value(1)).values("one")[: cap + 1]
    return limited.query.sql_with_params()


_KIND_MARK = "\x00kind\x00"


def _capped_counts(
    queryset: QuerySet,
    parts: dict[str, QuerySet],
    kinds: list[str],
    cap: int,
    extra: tuple[str, list] | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """({kind: min(rows, cap + 1)} of `queryset` per kind, {name: min(rows, cap + 1)} of each
    of `parts` and the (name, count) rows of the `extra` SELECT), in one query. Each count
    reads at most cap + 1 rows, whatever the number of cases. On PostgreSQL the per-kind count
    is one correlated subquery run per kind (planned once: fifty subqueries cost more to plan
    than to run); elsewhere one subquery per kind."""
    selects, params = [], []
    if kinds and connection.vendor == "postgresql":
        sql, sql_params = _capped_sql(queryset.filter(kind=_KIND_MARK), cap)
        # The ORM's own SQL with the kind's placeholder pointing at the outer row instead.
        mark = sql_params.index(_KIND_MARK)
        pieces = re.split(r"(?<!%)%s", sql)
        sql = "".join(
            piece + ("" if i == len(pieces) - 1 else ("k.kind" if i == mark else "%s"))
            for i, piece in enumerate(pieces)
        )
        per_kind = f"SELECT 'kind:' || k.kind, (SELECT COUNT(*) FROM ({sql}) capped) "  # noqa: S608
        selects.append(per_kind + "FROM unnest(%s::text[]) AS k(kind)")
        params += [*sql_params[:mark], *sql_params[mark + 1 :], list(kinds)]
    else:
        parts = {**{f"kind:{kind}": queryset.filter(kind=kind) for kind in kinds}, **parts}
    for name, part in parts.items():
        sql, sql_params = _capped_sql(part, cap)
        selects.append("SELECT CAST(%s AS TEXT), (SELECT COUNT(*) FROM (" + sql + ") capped)")  # noqa: S608
        params += [name, *sql_params]
    if extra is not None:
        selects.append(extra[0])
        params += extra[1]
    with connection.cursor() as cursor:
        # The SQL is the ORM's own, compiled above; every value goes in as a parameter.
        cursor.execute(" UNION ALL ".join(selects), params)
        counted = dict(cursor.fetchall())
    by_kind = {kind: counted.pop(f"kind:{kind}") for kind in kinds}
    return by_kind, counted


# The filters the kept sums (CaseCount) can answer; any other needs the cases themselves.
_SUMMARY_KEYS = ("state", "entity")


def _summary_scope(params: QueryDict) -> tuple[list[str], str | None] | None:
    """(states, entity or None) that the counts' filter `params` selects, as CaseFilterSet reads
    them (an invalid state list is ignored, a blank entity too), when it names nothing but
    states and an entity; None when another filter has a value."""
    filters = CaseFilterSet.base_filters
    for key in params:
        named = key in filters and key not in _SUMMARY_KEYS
        if named and any(value not in ("", None) for value in params.getlist(key)):
            return None
    raw_states = params.getlist("state")
    states = list(ACTIVE_STATES)
    if raw_states:
        try:
            states = list(filters["state"].field.clean(raw_states)) or list(CaseState.values)
        except ValidationError:
            # The filter set ignores an invalid list; the counts then take every state.
            states = list(CaseState.values)
    entity = filters["entity"].field.clean(params.get("entity"))
    return states, entity or None


def _estimated_count(queryset: QuerySet) -> int:
    """The planner's estimate of `queryset`'s rows, rounded to two significant figures
    (PostgreSQL; elsewhere the exact count)."""
    if connection.vendor != "postgresql":
        return queryset.count()
    plan = json.loads(queryset.order_by().values("pk").explain(format="json"))
    rows = int(plan[0]["Plan"]["Plan Rows"])
    return int(float(f"{rows:.2g}")) if rows >= 100 else rows


def _shown(count: int, cap: int) -> str:
    return f"{cap:,}+" if count > cap else f"{count:,}"


def case_counts(*, filters: Mapping | None = None, cap: int | None = None) -> dict:
    """Counts for the top of the queue, under the current filter (but its kind and SLA):
    {"by_kind": [{"kind", "label", "count"}], "by_sla": {"breached", "due_soon", "on_time",
    "escalated"}, "total", "exact", "shown"}. Of open/acknowledged cases unless the filter
    names states.

    Under no filter but states and an entity (the queue as it opens, an entity's queue), the
    counts per kind, the escalated and the total are exact, summed from the counts the
    database keeps (exceptions.summaries). The others, and every count under any
    other filter, are exact up to `cap`; a larger one is reported as cap + 1 ("1,000+" in
    `shown`, the figures as people read them) and a total past it as the planner's estimate
    ("about 410,000"); `exact` says whether every figure is exact. Two queries at most,
    each reading at most cap + 1 index entries per capped count."""
    cap = COUNT_CAP if cap is None else cap
    params = QueryDict(mutable=True)
    for key in filters or {}:
        if key not in _COUNT_IGNORES:
            values = filters.getlist(key) if hasattr(filters, "getlist") else [filters[key]]
            params.setlist(key, values)
    queryset = Case.objects.all()
    scope = _summary_scope(params)
    if params and scope is None:
        queryset = CaseFilterSet(params, queryset=queryset).qs
    elif scope is not None:
        queryset = queryset.filter(state__in=scope[0])
        if scope[1] is not None:
            queryset = queryset.filter(entity=scope[1])
    if not params.getlist("state"):
        queryset = queryset.filter(state__in=ACTIVE_STATES)
    sla_keys = (*(key for key, _ in SLA_CHOICES), "escalated")
    now = timezone.now()
    parts = {key: queryset.filter(sla_q(key, now)) for key, _ in SLA_CHOICES}
    # "On time" (sla_q) is a range or no SLA at all: counted as two ranges of the SLA index
    # (its OR would read every open case's entry), then added up.
    active = Q(state__in=ACTIVE_STATES)
    parts["on_time"] = queryset.filter(active, sla_due_at__gte=now + DUE_SOON)
    parts["on_time_no_sla"] = queryset.filter(active, sla_due_at__isnull=True)
    kinds = list(CaseKind.values)
    if scope is None:
        parts["escalated"] = queryset.filter(escalated_at__isnull=False)
        parts["total"] = queryset
        per_kind, counted = _capped_counts(queryset, parts, kinds, cap)
        exact_keys = set()
    else:
        states, entity = scope
        if summary_in_use():
            extra = case_counts_sql(states=states, entity=entity)
            _, counted = _capped_counts(queryset, parts, [], cap, extra=extra)
            all_kinds, counted["escalated"] = read_case_counts(counted)
        else:
            _, counted = _capped_counts(queryset, parts, [], cap)
            all_kinds, counted["escalated"] = plain_case_counts(states=states, entity=entity)
        per_kind = {kind: all_kinds.get(kind, 0) for kind in kinds}
        counted["total"] = sum(all_kinds.values())
        exact_keys = {"escalated", "total", *(f"kind:{kind}" for kind in kinds)}
    counted["on_time"] = min(counted["on_time"] + counted.pop("on_time_no_sla"), cap + 1)
    total = counted["total"]
    exact = all(
        count <= cap or name in exact_keys
        for name, count in (
            *((f"kind:{kind}", count) for kind, count in per_kind.items()),
            *counted.items(),
        )
    )
    estimated = total > cap and "total" not in exact_keys
    if estimated:
        total = max(_estimated_count(queryset), total)
    labels = dict(CaseKind.choices)
    by_kind = sorted(
        (
            {"kind": kind, "label": labels[kind], "count": count}
            for kind, count in per_kind.items()
            if count
        ),
        key=lambda row: (-row["count"], row["kind"]),
    )

    def shown(name: str, count: int) -> str:
        return f"{count:,}" if name in exact_keys else _shown(count, cap)

    figures = {key: shown(key, counted[key]) for key in sla_keys}
    figures["total"] = f"about {total:,}" if estimated else f"{total:,}"
    for row in by_kind:
        row["shown"] = shown(f"kind:{row['kind']}", row["count"])
    return {
        "by_kind": by_kind,
        "by_sla": {key: counted[key] for key in sla_keys},
        "total": total,
        "exact": exact,
        "shown": figures,
    }


def case_items(case: Case, *, limit: int = 100) -> list[CaseItem]:
    """The first `limit` blocked records of a grouped case still blocked, oldest first."""
    return list(
        case.items.filter(cleared_at__isnull=True)
        .select_related("subject_type")
        .order_by("added_at", "id")[:limit]
    )


def _open_item_groups(case: Case) -> list[dict]:
    """A grouped case's open items counted and summed per (currency, period), read once per
    Case instance: the case page and its guide show the totals and the months."""
    groups = case.__dict__.get("_open_item_groups")
    if groups is None:
        read = kept_open_item_groups if summary_in_use() else plain_open_item_groups
        groups = read(case.pk)
        case.__dict__["_open_item_groups"] = groups
    return groups


def case_item_totals(case: Case) -> list[dict]:
    """What a grouped case blocks: [{"currency", "count", "value"}] of its open items (value
    a Decimal, summed per currency, never across; None when no item of it has a value),
    by currency."""
    totals: dict[str, dict] = {}
    for group in _open_item_groups(case):
        total = totals.setdefault(
            group["currency"], {"currency": group["currency"], "count": 0, "value": None}
        )
        total["count"] += group["count"]
        if group["value"] is not None:
            total["value"] = group["value"] + (total["value"] or 0)
    return [totals[currency] for currency in sorted(totals)]


def case_item_periods(case: Case) -> list[str]:
    """The months ("YYYY-MM") of the records a grouped case still blocks, oldest first."""
    return sorted({group["period"] for group in _open_item_groups(case) if group["period"]})


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
