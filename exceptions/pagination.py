"""Keyset pages of the case queue, sortable, for the console and the API.

A page is found by the last row of the previous one (its sort value and id, in an opaque
cursor), never by an offset: the 1000th page costs what the first does (one query on the
queue's index, `LIMIT size + 1`). The sort keys are whitelisted; the id breaks ties. A null
sort value (a case without an SLA) comes last in either direction.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Case as CaseWhen
from django.db.models import F, IntegerField, Q, QuerySet, Value, When
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

# sort key as the query string names it -> (column or annotation, label)
SORTS = {
    "last_seen_at": ("last_seen_at", "Last seen"),
    "first_seen_at": ("first_seen_at", "Age"),
    "sla_due_at": ("sla_due_at", "SLA due"),
    "severity": ("severity_rank", "Severity"),
    "item_count": ("item_count", "Blocked records"),
    "kind": ("kind", "Kind"),
}
DEFAULT_SORT = "-last_seen_at"
PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}


def _with_rank(queryset: QuerySet) -> QuerySet:
    return queryset.annotate(
        severity_rank=CaseWhen(
            *(When(severity=s, then=Value(rank)) for s, rank in SEVERITY_RANK.items()),
            default=Value(0),
            output_field=IntegerField(),
        )
    )


def parse_sort(sort: str | None) -> tuple[str, str, bool]:
    """(sort key, column, descending) of a `sort` parameter; the default when unknown."""
    sort = sort or DEFAULT_SORT
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    if key not in SORTS:
        return parse_sort(DEFAULT_SORT)
    return key, SORTS[key][0], descending


# The type of each sort column's values, which a cursor must carry to be used.
_TYPES = {
    "last_seen_at": datetime,
    "first_seen_at": datetime,
    "sla_due_at": datetime,
    "severity_rank": int,
    "item_count": int,
    "kind": str,
}
_MAX_INT = 2**31 - 1


def _encode(column: str, value, pk: int) -> str:
    raw = value.isoformat() if isinstance(value, datetime) else value
    text = json.dumps([column, raw, pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode(cursor: str, column: str):
    """(value, pk) of a cursor made for `column`; None when it is not one of ours (another
    sort, a value of the wrong type or out of range): the first page is shown then."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        made_for, raw, pk = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if made_for != column or not isinstance(pk, int) or not 0 < pk <= 2**63 - 1:
        return None
    wanted = _TYPES[column]
    if raw is None:
        return None, pk
    if wanted is datetime:
        try:
            value = datetime.fromisoformat(raw)
        except (TypeError, ValueError):
            return None
        offset = value.utcoffset()
        if offset is None or abs(offset.total_seconds()) > 14 * 3600:
            return None
        return value, pk
    if wanted is int:
        ok = isinstance(raw, int) and not isinstance(raw, bool) and abs(raw) <= _MAX_INT
        return (raw, pk) if ok else None
    return (raw, pk) if isinstance(raw, str) and len(raw) <= 64 else None


# Sort columns that may hold NULL (sorted last either way); the others sort as their index.
_NULLABLE = {"sla_due_at"}


def _after(column: str, descending: bool, value, pk: int) -> Q:
    if value is None:
        return Q(**{f"{column}__isnull": True, "pk__lt" if descending else "pk__gt": pk})
    beyond = "lt" if descending else "gt"
    # The first term repeats what the other two imply, as a range the sort's index can seek
    # to (an OR alone makes PostgreSQL read the index from its start).
    after = Q(**{f"{column}__{beyond}e": value}) & (
        Q(**{f"{column}__{beyond}": value}) | Q(**{column: value, f"pk__{beyond}": pk})
    )
    if column in _NULLABLE:
        return after | Q(**{f"{column}__isnull": True})
    return after


@dataclass
class KeysetPage:
    rows: list
    sort: str
    next_cursor: str | None
    is_first: bool


def keyset_page(
    queryset: QuerySet, *, sort: str | None, cursor: str | None, size: int = PAGE_SIZE
) -> KeysetPage:
    """One page of `queryset` sorted by `sort` after `cursor` (None: the first page)."""
    key, column, descending = parse_sort(sort)
    if column == "severity_rank":
        queryset = _with_rank(queryset)
    # NULLS LAST only where a NULL can be: on a NOT NULL column it would stop PostgreSQL from
    # reading the rows in the order of the column's index (a sort of every case instead).
    nulls_last = True if column in _NULLABLE else None
    order = (
        F(column).desc(nulls_last=nulls_last)
        if descending
        else F(column).asc(nulls_last=nulls_last)
    )
    queryset = queryset.order_by(order, "-pk" if descending else "pk")
    position = _decode(cursor, column) if cursor else None
    if position is not None:
        queryset = queryset.filter(_after(column, descending, *position))
    rows = list(queryset[: size + 1])
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        last = rows[-1]
        next_cursor = _encode(column, getattr(last, column), last.pk)
    return KeysetPage(rows, f"-{key}" if descending else key, next_cursor, position is None)


class CaseKeysetPagination(BasePagination):
    """API: `?sort=<key>` (prefix "-" for descending), `?cursor=` from `next`, `?page_size=`."""

    def paginate_queryset(self, queryset, request, view=None):
        try:
            size = min(int(request.query_params.get("page_size", PAGE_SIZE)), MAX_PAGE_SIZE)
        except ValueError:
            size = PAGE_SIZE
        self.request = request
        self.page = keyset_page(
            queryset,
            sort=request.query_params.get("sort"),
            cursor=request.query_params.get("cursor"),
            size=max(size, 1),
        )
        return self.page.rows

    def get_paginated_response(self, data):
        next_url = None
        if self.page.next_cursor:
            next_url = replace_query_param(
                self.request.build_absolute_uri(), "cursor", self.page.next_cursor
            )
        return Response({"next": next_url, "sort": self.page.sort, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "sort": {"type": "string"},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "sort",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "string",
                    "enum": [k for key in SORTS for k in (key, f"-{key}")],
                },
                "description": f"sort key, '-' for descending (default {DEFAULT_SORT})",
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "the cursor of the next page (from `next`)",
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "maximum": MAX_PAGE_SIZE},
            },
        ]
