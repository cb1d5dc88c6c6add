"""`reverse_id(viewname, pk)`: `reverse(viewname, args=[pk])` for the commonest console link,
a record's page by its integer id, with the URL pattern reversed once per view name.

Django's `reverse` resolves the pattern and checks the result against its regex on every
call: about 60-150 µs here, and a grouped case's page links 100 blocked records, the queue
50 cases twice (tests/benchmarks/bench_console.py). The URL made from the kept prefix and
suffix is the one `reverse` gives (tests/foundation/test_links.py); an argument that is not
an integer, or a pattern the trick does not fit, goes through `reverse` itself.
"""

from collections.abc import Callable
from functools import lru_cache

from django.urls import get_script_prefix, reverse

_SENTINEL = "987654321"


@lru_cache(maxsize=512)
def _parts(viewname: str, script_prefix: str) -> tuple[str, str] | None:
    """(prefix, suffix) around the one argument of `viewname`'s URL; None when the argument
    does not appear exactly once in it."""
    url = reverse(viewname, args=[int(_SENTINEL)])
    prefix, found, suffix = url.partition(_SENTINEL)
    if not found or _SENTINEL in suffix:
        return None
    return prefix, suffix


def reverse_id(viewname: str, pk) -> str:
    """`reverse(viewname, args=[pk])` for an integer `pk` (an int, or a str of digits)."""
    if isinstance(pk, int) and not isinstance(pk, bool) and pk >= 0:
        parts = _parts(viewname, get_script_prefix())
        if parts is not None:
            return f"{parts[0]}{pk}{parts[1]}"
    return reverse(viewname, args=[pk])


def id_url_maker(viewname: str) -> Callable[[int], str]:
    """`lambda pk: reverse_id(viewname, pk)`."""
    return lambda pk: reverse_id(viewname, pk)
