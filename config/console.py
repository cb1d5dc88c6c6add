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
