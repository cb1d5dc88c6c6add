"""Counts and sums kept by the database itself, for the console's figures over many rows.

Why (console benchmark, issue 11, docs/benchmarks.md "Fourth session"): the queue's counts per
kind read up to COUNT_CAP + 1 index entries per kind on every look at the queue (about 13,000
entries, and the planner's estimate of the total), and a grouped case's page summed its
10,000 blocked records per currency and month (3-4 ms). Summed from these tables they are
exact and cost one index range. Two of them:

- `CaseCount`: the cases per (kind, state, entity, escalated);
- `CaseItemTotal`: a grouped case's open items per (case, currency, period): how many, how
  many have a value, and the sum of the values.

How they stay exact: statement-level AFTER triggers on the source table (INSERT, UPDATE,
DELETE with their transition tables, and TRUNCATE) append one row per key the statement
changed, with the change, in the writing transaction: a rolled-back write leaves no row, and
every writer is covered, the services, the bulk paths, queryset `update()`, raw SQL, Django's
cascades and the benchmark's generator alike. Rows are only appended, never updated, so
concurrent writers never wait for one another on a shared row (nor deadlock on one).
`summaries_compact` folds each table's rows into one per key (a Celery beat task); readers
see the rows before or after a fold, never half of it.

PostgreSQL only (like the history's append-only triggers); elsewhere the figures are read
from the source rows, which is also what the tests compare the sums with
(tests/exceptions/test_summaries.py). Every statement here is built from the models' quoted
table and column names; values go in as parameters.
"""

from dataclasses import dataclass

from django.db import connection, connections
from django.db.models import Count, Q, Sum

from exceptions.models import Case, CaseCount, CaseItem, CaseItemTotal


@dataclass(frozen=True)
class Summary:
    """Which source rows count (`where`), under which key, with which measures: SQL
    expressions over a source row, with `{name}` for the quoted column of field `name`."""

    name: str
    source: type
    target: type
    keys: tuple[tuple[str, str], ...]  # (target field, expression)
    measures: tuple[tuple[str, str], ...]  # (target field, one row's contribution)
    where: str = "TRUE"


CASE_COUNTS = Summary(
    name="exc_case_count",
    source=Case,
    target=CaseCount,
    keys=(
        ("kind", "{kind}"),
        ("state", "{state}"),
        ("entity", "{entity}"),
        ("escalated", "{escalated_at} IS NOT NULL"),
    ),
    measures=(("delta", "1"),),
)
ITEM_TOTALS = Summary(
    name="exc_item_total",
    source=CaseItem,
    target=CaseItemTotal,
    keys=(("case_id", "{case}"), ("currency", "{currency}"), ("period", "{period}")),
    measures=(
        ("items", "1"),
        ("valued", "CASE WHEN {value_amount} IS NULL THEN 0 ELSE 1 END"),
        ("value", "COALESCE({value_amount}, 0)"),
    ),
    where="{cleared_at} IS NULL",
)
SUMMARIES = (CASE_COUNTS, ITEM_TOTALS)


def _qn(name: str, using: str) -> str:
    return connections[using].ops.quote_name(name)


def _expr(summary: Summary, template: str, using: str) -> str:
    columns = {f.name: _qn(f.column, using) for f in summary.source._meta.concrete_fields}
    return template.format(**columns)


def _target(summary: Summary, using: str) -> tuple[str, list[str], list[str]]:
    """(quoted target table, quoted key columns, quoted measure columns)."""
    meta = summary.target._meta
    keys = [_qn(meta.get_field(name).column, using) for name, _ in summary.keys]
    measures = [_qn(meta.get_field(name).column, using) for name, _ in summary.measures]
    return _qn(meta.db_table, using), keys, measures


def _rows_of(summary: Summary, rows: str, sign: str, using: str) -> str:
    """SELECT of each counted row of `rows` as its key and its (signed) measures."""
    keys = [f"{_expr(summary, e, using)} AS k{i}" for i, (_, e) in enumerate(summary.keys)]
    measures = [
        f"{sign}({_expr(summary, e, using)}) AS m{i}" for i, (_, e) in enumerate(summary.measures)
    ]
    return (
        f"SELECT {', '.join(keys + measures)} FROM {rows} "  # noqa: S608
        f"WHERE {_expr(summary, summary.where, using)}"
    )


def _insert_grouped(summary: Summary, changes: str, using: str) -> str:
    """INSERT into the target of `changes` (a SELECT of k0.., m0..) summed per key."""
    table, keys, measures = _target(summary, using)
    k = [f"k{i}" for i in range(len(keys))]
    sums = [f"SUM(m{i})" for i in range(len(measures))]
    return (
        f"INSERT INTO {table} ({', '.join(keys + measures)}) "  # noqa: S608
        f"SELECT {', '.join(k + sums)} FROM ({changes}) changes GROUP BY {', '.join(k)} "
        f"HAVING {' OR '.join(f'{s} <> 0' for s in sums)}"
    )


def function_sql(summary: Summary, using: str = "default") -> str:
    """The trigger function: the statement's changes per key, as rows of the target."""
    table = _target(summary, using)[0]
    new, old = (_rows_of(summary, "new_rows", "", using), _rows_of(summary, "old_rows", "-", using))
    return f"""
CREATE OR REPLACE FUNCTION {summary.name}_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {_insert_grouped(summary, new, using)};
    ELSIF TG_OP = 'UPDATE' THEN
        {_insert_grouped(summary, f"{new} UNION ALL {old}", using)};
    ELSIF TG_OP = 'DELETE' THEN
        {_insert_grouped(summary, old, using)};
    ELSE
        DELETE FROM {table};
    END IF;
    RETURN NULL;
END
$$
"""  # noqa: S608


def _triggers(summary: Summary) -> tuple[tuple[str, str, str], ...]:
    """(trigger name, event, REFERENCING clause) of each trigger."""
    both = "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows"
    return (
        (f"{summary.name}_ins", "INSERT", "REFERENCING NEW TABLE AS new_rows"),
        (f"{summary.name}_upd", "UPDATE", both),
        (f"{summary.name}_del", "DELETE", "REFERENCING OLD TABLE AS old_rows"),
        (f"{summary.name}_trunc", "TRUNCATE", ""),
    )


def install_triggers(*, using: str = "default") -> bool:
    """Create (or replace) every summary's function and triggers; False when not PostgreSQL.
    Idempotent."""
    if connections[using].vendor != "postgresql":
        return False
    with connections[using].cursor() as cursor:
        for summary in SUMMARIES:
            source = _qn(summary.source._meta.db_table, using)
            cursor.execute(function_sql(summary, using))
            for name, event, referencing in _triggers(summary):
                cursor.execute(
                    f"CREATE OR REPLACE TRIGGER {name} AFTER {event} ON {source} {referencing} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {summary.name}_delta()"
                )
    return True


def uninstall_triggers(*, using: str = "default") -> None:
    """Drop the triggers and the functions (the migration's reverse)."""
    if connections[using].vendor != "postgresql":
        return
    with connections[using].cursor() as cursor:
        for summary in SUMMARIES:
            source = _qn(summary.source._meta.db_table, using)
            for name, _, _ in _triggers(summary):
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {source}")
            cursor.execute(f"DROP FUNCTION IF EXISTS {summary.name}_delta()")


def backfill_sql(summary: Summary, using: str = "default") -> str:
    """One row per key of the source rows there are (run with the triggers in place, in the
    same transaction: creating a trigger keeps writers out of the table until the commit)."""
    source = _qn(summary.source._meta.db_table, using)
    return _insert_grouped(summary, _rows_of(summary, source, "", using), using)


def summaries_compact(*, using: str = "default") -> int:
    """Fold each summary's rows into one per key (keys whose sums are all zero dropped), one
    statement a table; returns the rows left. Safe beside writers and other folds: it folds
    the rows its snapshot sees, and a row another fold already took is skipped. Idempotent."""
    if connections[using].vendor != "postgresql":
        return 0
    left = 0
    with connections[using].cursor() as cursor:
        for summary in SUMMARIES:
            table, keys, measures = _target(summary, using)
            gone = f"DELETE FROM {table} RETURNING {', '.join(keys + measures)}"  # noqa: S608
            aliased = [f"{c} AS k{i}" for i, c in enumerate(keys)]
            aliased += [f"{c} AS m{i}" for i, c in enumerate(measures)]
            changes = f"SELECT {', '.join(aliased)} FROM gone"  # noqa: S608
            cursor.execute(f"WITH gone AS ({gone}) {_insert_grouped(summary, changes, using)}")
            left += cursor.rowcount
    return left


def summary_in_use() -> bool:
    """Whether the triggers keep the summaries (PostgreSQL)."""
    return connection.vendor == "postgresql"


# -- reading ----------------------------------------------------------------------------------
def case_counts_sql(*, states: list[str], entity: str | None) -> tuple[str, list]:
    """A SELECT of ("sum:<kind>:<escalated 0/1>", count) rows: the cases in `states` (and of
    `entity`, when given) per kind and escalated, summed from CaseCount (PostgreSQL)."""
    rows = CaseCount.objects.filter(state__in=states)
    if entity is not None:
        rows = rows.filter(entity=entity)
    table, keys, measures = _target(CASE_COUNTS, "default")
    kind, escalated, delta = keys[0], keys[3], measures[0]
    sql, params = rows.order_by().values("pk").query.sql_with_params()
    # The ORM's WHERE clause; the grouping written here.
    where = sql[sql.index(" WHERE ") :] if " WHERE " in sql else ""
    return (
        f"SELECT 'sum:' || {kind} || ':' || {escalated}::int, "  # noqa: S608
        f"SUM({delta})::bigint FROM {table}{where} GROUP BY {kind}, {escalated}",
        list(params),
    )


def read_case_counts(rows: dict[str, int]) -> tuple[dict[str, int], int]:
    """({kind: cases}, escalated cases) from `case_counts_sql`'s rows (popped from `rows`)."""
    by_kind: dict[str, int] = {}
    escalated = 0
    for name in [name for name in rows if name.startswith("sum:")]:
        _, kind, flag = name.split(":")
        count = int(rows.pop(name))
        if count:
            by_kind[kind] = by_kind.get(kind, 0) + count
        escalated += count if flag == "1" else 0
    return by_kind, escalated


def plain_case_counts(*, states: list[str], entity: str | None) -> tuple[dict[str, int], int]:
    """({kind: cases}, escalated cases) counted from the cases themselves."""
    cases = Case.objects.filter(state__in=states)
    if entity is not None:
        cases = cases.filter(entity=entity)
    rows = list(
        cases.order_by()
        .values("kind")
        .annotate(n=Count("id"), x=Count("id", filter=Q(escalated_at__isnull=False)))
    )
    return {row["kind"]: row["n"] for row in rows}, sum(row["x"] for row in rows)


def plain_open_item_groups(case_id: int) -> list[dict]:
    """[{"currency", "period", "count", "value"}] of a grouped case's open items, counted and
    summed from the items (value None when none of the group has one)."""
    return list(
        CaseItem.objects.filter(case_id=case_id, cleared_at__isnull=True)
        .order_by()
        .values("currency", "period")
        .annotate(count=Count("id"), value=Sum("value_amount"))
    )


def kept_open_item_groups(case_id: int) -> list[dict]:
    """The same, summed from the totals the database keeps (exceptions.summaries; PostgreSQL):
    one index range instead of every item (bench_console's 10,000: 3-4 ms)."""
    rows = (
        CaseItemTotal.objects.filter(case_id=case_id)
        .order_by()
        .values("currency", "period")
        .annotate(count=Sum("items"), valued=Sum("valued"), total=Sum("value"))
        .exclude(count=0)
    )
    return [
        {
            "currency": row["currency"],
            "period": row["period"],
            "count": row["count"],
            "value": row["total"] if row["valued"] else None,
        }
        for row in rows
    ]
