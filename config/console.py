"""What every console page shares: a filtered, paginated list; one object or 404; history.

Each app's views stay thin: parse input, call a selector or one service, render. The list
context is the same everywhere, so one pager template (`_pager.html`) serves every list.
"""

from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.core.paginator import Page, Paginator
from django.http import Http404

PAGE_SIZE = 50

T = TypeVar("T")


def filtered_page(request, filterset_class, queryset, *, page_size: int = PAGE_SIZE) -> dict:
    """The context of a list page: `filterset`, the requested `page` of its rows, and `query`,
    the query string without `page`, which the pager's links carry so that paging keeps the
    filters. A page number out of range gives the last page; a non-number, the first."""
    filterset = filterset_class(request.GET or None, queryset=queryset)
    page: Page = Paginator(filterset.qs, page_size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"filterset": filterset, "page": page, "query": query.urlencode()}


def get_or_404(getter: Callable[[int], T], pk: int, what: str) -> T:
    """`getter(pk)` (a selector), or a 404 saying "no such <what>"."""
    try:
        return getter(pk)
    except ObjectDoesNotExist:
        raise Http404(f"no such {what}") from None


def history_rows(obj):
    """The history rows of `obj` (django-simple-history), newest first, actors joined."""
    return obj.history.select_related("history_user").order_by("-history_date", "-history_id")


def actor_label(user) -> str:
    """Who acted, for people: a person's username, "API client x", "task system:x", or
    "—" when nobody was recorded."""
    if user is None:
        return "—"
    name = user.get_username()
    if getattr(user, "is_api_client", False):
        return f"API client {name.removeprefix('api:')}"
    if name.startswith("system:"):
        return f"task {name}"
    return name


_HISTORY_TYPES = {"+": "Created", "~": "Changed", "-": "Deleted"}
# Columns a change list would only clutter (every save moves them).
_NOT_SHOWN = {"updated_at", "last_seen_at"}


def _shown(value) -> str:
    if value is None or value == "":
        return "—"
    return str(value)


def history_entries(obj, *, limit: int = 200) -> list[dict]:
    """`obj`'s history for people, newest first, at most `limit` rows (one query): each
    entry has `at`, `actor`, `action` (Created/Changed/Deleted), `reason`, `correlation_id`
    and `changes` — (field label, old, new) for every tracked field that differs from the
    row before it."""
    rows = list(history_rows(obj)[: limit + 1])
    entries = []
    for index, row in enumerate(rows[:limit]):
        previous = rows[index + 1] if index + 1 < len(rows) else None
        changes = []
        if previous is not None:
            for field in row.tracked_fields:
                if field.attname in _NOT_SHOWN:
                    continue
                old, new = getattr(previous, field.attname), getattr(row, field.attname)
                if old != new:
                    changes.append(
                        {
                            "field": str(field.verbose_name).capitalize(),
                            "old": _shown(old),
                            "new": _shown(new),
                        }
                    )
        entries.append(
            {
                "at": row.history_date,
                "actor": actor_label(row.history_user),
                "action": _HISTORY_TYPES.get(row.history_type, row.history_type),
                "reason": row.history_change_reason or "",
                "correlation_id": getattr(row, "correlation_id", ""),
                "changes": changes,
                "state": getattr(row, "state", None),
            }
        )
    return entries
