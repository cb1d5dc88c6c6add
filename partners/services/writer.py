"""Write a pass's accruals idempotently: insert what is new, update what changed, delete
what no longer arises — never touching an accrual a frozen statement holds.

A handful of statements per pass (one read, one bulk insert, one bulk update, each with its
history rows); deletions, rare, go one by one so each leaves its "-" history row.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from config.history import history_attrs, stamp
from partners.choices import FROZEN_SETTLEMENT_STATES
from partners.models import Accrual, SettlementLine

COMPARED = (
    "partner_id",
    "agreement_id",
    "source_kind",
    "source_ref",
    "customer_id",
    "invoice_id",
    "payment_id",
    "accrued_on",
    "period_start",
    "period_end",
    "rate",
    "basis_amount",
    "amount",
    "currency",
    "explanation",
    "clawback_of_id",
)


@dataclass
class WriteCount:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    frozen: int = 0

    def add(self, other: WriteCount) -> WriteCount:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def frozen_q():
    """Exists(...) true for an accrual on a line of an approved, posted or paid settlement."""
    return Exists(
        SettlementLine.objects.filter(
            accrual=OuterRef("pk"), settlement__state__in=FROZEN_SETTLEMENT_STATES
        )
    )


def _delete(accrual: Accrual, *, actor, reason: str) -> None:
    """Remove an accrual that no longer arises, and its clawbacks. A line of an open
    statement that held it keeps its amount and loses the link (the statement is stale)."""
    for clawback in accrual.clawbacks.all():
        _delete(clawback, actor=actor, reason=reason)
    stamp(accrual, actor=actor, reason=reason)
    accrual.delete()


def accruals_write(desired: dict, *, scope: QuerySet, actor, reason: str) -> WriteCount:
    """Make the accruals in `scope` equal `desired` ({(rule_pk, source_key): values}).

    Frozen accruals stay as they are (counted in `frozen`). An accrual with a frozen clawback
    is kept even if it no longer arises. Idempotent: a second call writes nothing.
    """
    count = WriteCount()
    existing = {
        (a.rule_id, a.source_key): a
        for a in scope.annotate(
            is_frozen=frozen_q(),
            has_frozen_clawback=Exists(
                SettlementLine.objects.filter(
                    accrual__clawback_of=OuterRef("pk"),
                    settlement__state__in=FROZEN_SETTLEMENT_STATES,
                )
            ),
        )
    }
    to_create, to_update = [], []
    for key, values in desired.items():
        accrual = existing.pop(key, None)
        if accrual is None:
            to_create.append(Accrual(rule_id=key[0], source_key=key[1], **values))
        elif accrual.is_frozen:
            count.frozen += 1
        elif any(getattr(accrual, name) != values[name] for name in COMPARED):
            for name in COMPARED:
                setattr(accrual, name, values[name])
            to_update.append(accrual)
        else:
            count.unchanged += 1
    user = actor if actor is not None and actor.pk else None
    extra = history_attrs()
    if to_create:
        bulk_create_with_history(
            to_create,
            Accrual,
            batch_size=2000,
            default_user=user,
            default_change_reason=reason,
            custom_historical_attrs=extra,
        )
    if to_update:
        bulk_update_with_history(
            to_update,
            Accrual,
            fields=[name.removesuffix("_id") for name in COMPARED],
            batch_size=2000,
            default_user=user,
            default_change_reason=reason,
            custom_historical_attrs=extra,
        )
    for accrual in existing.values():
        if accrual.is_frozen or accrual.has_frozen_clawback:
            count.frozen += 1
            continue
        _delete(accrual, actor=user, reason=reason)
        count.deleted += 1
    count.created, count.updated = len(to_create), len(to_update)
    return count


# ---------------------------------------------------------------------------------------------
# The same, with `desired` a SELECT (PostgreSQL): rows and history rows written by statements,
# never through Python objects. Measured need: tests/benchmarks/bench_accruals.py.

_KEYS = ("rule_id", "source_key")
_DESIRED = "partners_desired_accrual"
_EXISTING = "partners_existing_accrual"


def _frozen_sql(alias: str) -> tuple[str, str]:
    """SQL: (the accrual `alias` is on a frozen statement, one of its clawbacks is)."""
    line, settlement = SettlementLine._meta, SettlementLine._meta.get_field("settlement")
    states = ", ".join(f"'{state}'" for state in FROZEN_SETTLEMENT_STATES)
    table, parent = line.db_table, settlement.related_model._meta.db_table
    on_frozen = (
        f"EXISTS (SELECT 1 FROM {table} sl JOIN {parent} st ON st.id = sl.settlement_id "  # noqa: S608
        f"WHERE sl.accrual_id = {{}} AND st.state IN ({states}))"
    )
    clawback = (
        f"EXISTS (SELECT 1 FROM {Accrual._meta.db_table} cb WHERE cb.clawback_of_id = "  # noqa: S608
        f"{alias}.id AND {on_frozen.format('cb.id')})"
    )
    return on_frozen.format(f"{alias}.id"), clawback


def _history_insert(source: str, kind: str) -> str:
    history = Accrual.history.model._meta.db_table
    names = ", ".join(("id", *_KEYS, *COMPARED))
    return (
        f"INSERT INTO {history} ({names}, history_date, history_change_reason, history_type, "  # noqa: S608
        f"history_user_id, correlation_id) SELECT {names}, %s, %s, '{kind}', %s, %s FROM {source}"
    )


def accruals_write_select(
    select: str, params: list, *, scope: QuerySet, actor, reason: str
) -> tuple[WriteCount, set[int]]:
    """`accruals_write` where desired is the SELECT `select` (columns rule_id, source_key and
    COMPARED): the same rows, history rows and counts, in a handful of statements.
    Returns (the counts, the rules the SELECT gave rows for)."""
    from django.db import connection
    from django.utils import timezone

    table = Accrual._meta.db_table
    user = actor if actor is not None and actor.pk else None
    stamp_params = [timezone.now(), reason, user.pk if user else None]
    stamp_params.append(history_attrs()["correlation_id"])
    scope_sql, scope_params = scope.values("id").query.sql_with_params()
    frozen, frozen_clawback = _frozen_sql("a")
    columns = ", ".join((*_KEYS, *COMPARED))
    keys = " AND ".join(f"e.{k} = d.{k}" for k in _KEYS)
    count = WriteCount()
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_DESIRED}, {_EXISTING}")
        cursor.execute(
            f"CREATE TEMP TABLE {_EXISTING} AS SELECT a.id, a.rule_id, a.source_key, "  # noqa: S608
            f"{frozen} AS is_frozen, {frozen_clawback} AS has_frozen_clawback "
            f"FROM {table} a WHERE a.id IN ({scope_sql})",
            scope_params,
        )
        existing = cursor.rowcount
        if existing:
            cursor.execute(f"CREATE TEMP TABLE {_DESIRED} AS {select}", params)
            cursor.execute(f"ANALYZE {_DESIRED}")
            cursor.execute(f"ANALYZE {_EXISTING}")
            new = f"SELECT {columns} FROM {_DESIRED} d WHERE NOT EXISTS "  # noqa: S608
            new += f"(SELECT 1 FROM {_EXISTING} e WHERE {keys})"  # noqa: S608
            new_params = []
        else:  # nothing stored yet (a first computation): straight from the SELECT
            new, new_params = select, list(params)
        # One statement inserts the new rows and their "+" history rows.
        cursor.execute(
            f"WITH ins AS (INSERT INTO {table} ({columns}) {new} RETURNING *), "  # noqa: S608
            f"history AS ({_history_insert('ins', '+')}) "
            "SELECT rule_id, count(*) FROM ins GROUP BY rule_id",
            [*new_params, *stamp_params],
        )
        made = dict(cursor.fetchall())
        count.created = sum(made.values())
        rule_pks = set(made)
        if existing:
            changed = " OR ".join(f"a.{n} IS DISTINCT FROM d.{n}" for n in COMPARED)
            sets = ", ".join(f"{n} = d.{n}" for n in COMPARED)
            cursor.execute(
                f"WITH upd AS (UPDATE {table} a SET {sets} FROM {_DESIRED} d "  # noqa: S608
                f"JOIN {_EXISTING} e ON {keys} WHERE a.id = e.id AND NOT e.is_frozen "
                f"AND ({changed}) RETURNING a.*) " + _history_insert("upd", "~"),
                stamp_params,
            )
            count.updated = cursor.rowcount
            cursor.execute(
                f"SELECT count(*) FILTER (WHERE e.is_frozen), count(*) FILTER (WHERE NOT "  # noqa: S608
                f"e.is_frozen) FROM {_DESIRED} d JOIN {_EXISTING} e ON {keys}"
            )
            frozen_n, kept = cursor.fetchone()
            count.frozen += frozen_n
            count.unchanged = kept - count.updated
            cursor.execute(
                f"SELECT e.id, e.is_frozen OR e.has_frozen_clawback FROM {_EXISTING} e "  # noqa: S608
                f"WHERE NOT EXISTS (SELECT 1 FROM {_DESIRED} d WHERE {keys}) ORDER BY e.id"
            )
            gone = cursor.fetchall()
            cursor.execute(f"SELECT DISTINCT rule_id FROM {_DESIRED}")  # noqa: S608
            rule_pks |= {row[0] for row in cursor.fetchall()}
            cursor.execute(f"DROP TABLE {_DESIRED}")
        else:
            gone = []
        cursor.execute(f"DROP TABLE {_EXISTING}")
    for pk, kept in gone:
        if kept:
            count.frozen += 1
            continue
        accrual = Accrual.objects.filter(pk=pk).first()
        if accrual is not None:  # (a clawback deleted with its source is gone already)
            _delete(accrual, actor=user, reason=reason)
            count.deleted += 1
    return count, rule_pks
