"""Console tables: a table's rows written by Python, one cell function per column.

A console list page shows 50 to 100 rows of a dozen cells. Written as a `{% for %}` loop,
every cell is several template variable look-ups and filters: on the exception queue that
was 1,800 look-ups and two thirds of the request (tests/benchmarks/bench_console.py,
docs/benchmarks.md "console"). A `Table` builds the same `<tr>` rows in Python. Even Django's
`format_html` costs too much at this rate (each argument goes through `keep_lazy`'s
wrapper), so cells are built with `html()`, which escapes exactly as `format_html` does,
for values that are not lazy translations. django-tables2 was not taken: it renders each
cell through the template engine, the cost this removes.

A column is a header (the page's template writes the `<thead>`: sort links are the page's)
and a function from the row's object to the cell's HTML: `html(...)` or a plain value
(escaped here). The row's own attributes come from `row_attrs`.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from html import escape as _escape
from typing import Any

from django.utils.safestring import SafeData, SafeString

DASH = "—"


def esc(value) -> str:
    """`django.utils.html.conditional_escape` without its lazy-object wrapper: a safe string
    (or anything with `__html__`) as it is, anything else as str() with &, <, >, " and '
    escaped (the characters Django's `escape` replaces)."""
    if isinstance(value, SafeData):
        return value
    if type(value) is int:
        return str(value)  # digits and a sign: nothing to escape
    if hasattr(value, "__html__"):
        return value.__html__()
    return _escape(str(value))


def html(template: str, *args) -> SafeString:
    """`format_html(template, *args)`: the arguments escaped, the template trusted."""
    return SafeString(template.format(*map(esc, args)))


@dataclass(frozen=True)
class Column:
    header: str
    cell: Callable[[Any], Any]
    css: str = ""  # the <td>'s class ("num" right-aligns amounts and counts)
    attrs: Callable[[Any], Mapping[str, Any]] | None = None  # per-row <td> attributes


def attributes(attrs: Mapping[str, Any]) -> str:
    """' name="value"' for each attribute whose value is not None (values escaped)."""
    return "".join(f' {name}="{esc(value)}"' for name, value in attrs.items() if value is not None)


class Table:
    """Subclasses declare `columns` and may override `row_attrs`."""

    columns: tuple[Column, ...] = ()

    def row_attrs(self, obj) -> Mapping[str, Any]:
        """The <tr>'s attributes; a value None leaves the attribute out."""
        return {}

    def _cell(self, column: Column, obj) -> str:
        content = esc(column.cell(obj))
        if column.attrs is None:
            opening = f'<td class="{column.css}">' if column.css else "<td>"
            return f"{opening}{content}</td>"
        attrs = {"class": column.css or None, **column.attrs(obj)}
        return f"<td{attributes(attrs)}>{content}</td>"

    def row(self, obj) -> SafeString:
        cells = "".join(self._cell(column, obj) for column in self.columns)
        # Attribute values and cell contents are escaped above; css is the code's own.
        return SafeString(f"<tr{attributes(self.row_attrs(obj))}>{cells}</tr>")

    def rows(self, objects: Iterable) -> SafeString:
        return SafeString("\n".join(self.row(obj) for obj in objects))


def or_dash(value) -> Any:
    """The value, or an em dash for None and ""."""
    return DASH if value is None or value == "" else value
