"""Set-based writes for the batch fast path: PostgreSQL COPY where it exists, the ORM elsewhere.

A multi-row INSERT of a thousand rows spends most of its time binding parameters; COPY of
the same rows is an order of magnitude cheaper. These helpers write model instances (and
their simple-history rows) without per-row queries:

- `insert_ignoring_conflicts`: ``INSERT ... SELECT ... FROM jsonb_populate_recordset(...)
  ON CONFLICT DO NOTHING RETURNING``, the rows sent as one JSON parameter, so that rows another
  transaction holds are skipped (after waiting for it), never stored twice. Elsewhere
  (SQLite 3.35+): ``INSERT ... VALUES ... ON CONFLICT DO NOTHING RETURNING``, the values
  prepared by each field's public API (``pre_save``, ``get_db_prep_save``).
- `insert`: plain rows with ids drawn from the table's sequence first, then COPY.
- `history_insert`: the "+" history rows of inserted instances, stamped with `stamp()`.
- `update_columns`: one ``UPDATE ... FROM unnest(...)`` for many rows (Django's bulk_update
  builds a CASE per column with a parameter per row, most of a batch's update time), each
  row written only while in its saved FSM state; elsewhere ``UPDATE ... FROM (VALUES ...)``.
- `select_bound`: a statement with its parameters bound server-side (Django's cursors inline
  them as literals, which for arrays of a thousand values is most of the statement's cost).
- `history_columns`: which columns of a model's history table copy the model's own.

Errors are Django's (IntegrityError on a unique violation), so callers can fall back.
Statements are built from the models' ``_meta`` only; no Django query or compiler internals.
Instances written here are marked saved through `config.instances.mark_saved`.
"""

import json
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal

import orjson
import psycopg
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DEFAULT_DB_ALIAS, connection, connections, models
from django.utils import timezone
from django_fsm import ConcurrentTransition

from config.fsm import concurrent_state_attnames, mark_states_saved, saved_states
from config.instances import mark_saved


def _on_postgres() -> bool:
    return connection.vendor == "postgresql"


def select_bound(sql: str, params: Sequence, *, prepare: bool = False) -> list[tuple]:
    """PostgreSQL: run `sql` with `params` bound server-side; its rows.

    `prepare`: prepared on the connection at its first run and planned once (when the
    database OPTIONS' `prepare_threshold` enables prepared statements, config/settings/
    base.py). Only for statements whose plan does not depend on their values: measured on
    ingest_single, planning was a third of a usage event's PostgreSQL CPU and its prepared
    statements halved it; measured on erp_posting, preparing every set-based statement
    (claims, updates over arrays of ids) raised PostgreSQL's CPU per job from 1.6 to 2.2 ms
    (generic plans), so those are not prepared.

    Logged in `connection.queries` like Django's own statements when queries are captured
    (DEBUG, or a test's query count), so query budgets see it.
    """
    db = connections[DEFAULT_DB_ALIAS]  # one look-up of the thread's connection, not five
    db.ensure_connection()
    started = time.monotonic()
    with db.wrap_database_errors, psycopg.Cursor(db.connection) as cursor:
        cursor.execute(sql, params, prepare=prepare)
        result = cursor.pgresult
        rows = cursor.fetchall() if result is not None and result.nfields else []
    if db.queries_logged:
        db.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


# The columns simple-history adds to every history table (besides history_id).
HISTORY_OWN = frozenset(
    {"history_date", "history_change_reason", "history_type", "history_user_id"}
)


def history_columns(model: type[models.Model]) -> tuple[list[models.Field], list[str]]:
    """(the history table's fields that copy `model`'s own columns, the attnames of its other
    columns but history_id: HISTORY_OWN and any extra attribute such as correlation_id)."""
    tracked = {f.attname for f in model._meta.concrete_fields}
    fields = model.history.model._meta.concrete_fields
    copied = [f for f in fields if f.attname in tracked]
    own = [f.attname for f in fields if f.attname not in tracked and f.attname != "history_id"]
    return copied, own


def _json_text(value, encoder: type[json.JSONEncoder]) -> str:
    """`value` as JSON text for a jsonb column: orjson, with the field encoder's `default`.

    Anything orjson refuses (an integer past 64 bits, say) goes through json.dumps; the
    stored jsonb value is the same either way (only whitespace and escapes differ).
    """
    try:
        return orjson.dumps(
            value,
            default=encoder().default,
            option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS,
        ).decode()
    except TypeError:
        return json.dumps(value, cls=encoder)


def row_builder(fields: Sequence[models.Field]):
    """A function obj -> list of column values for `fields` (JSON serialised as text)."""
    attnames = [f.attname for f in fields]
    json_fields = [
        (i, f.encoder or DjangoJSONEncoder)
        for i, f in enumerate(fields)
        if isinstance(f, models.JSONField)
    ]

    def build(obj: models.Model) -> list:
        values = obj.__dict__
        row = [values[name] for name in attnames]
        for i, encoder in json_fields:
            if row[i] is not None:
                row[i] = _json_text(row[i], encoder)
        return row

    return build


def _copy(cursor, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    qn = connection.ops.quote_name
    sql = f"COPY {qn(table)} ({', '.join(qn(c) for c in columns)}) FROM STDIN"
    with cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def insert_ignoring_conflicts(
    model: type[models.Model],
    objs: list[models.Model],
    key_fields: tuple[str, ...],
    *,
    with_history: bool = False,
    default_user=None,
) -> set[tuple]:
    """Insert `objs`, skipping any whose unique `key_fields` exist; set pks; the keys inserted.

    A row a concurrent transaction is inserting waits for it and is skipped if it commits.
    `objs` have distinct keys. With `with_history`, each inserted row also gets its "+"
    history row, as `history_insert` writes it (stamped user and reason, else
    `default_user`); on PostgreSQL in the same statement, from the rows it inserted.
    """
    if not objs:
        return set()
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    keys = [meta.get_field(name) for name in key_fields]
    by_key = {tuple(getattr(o, f.attname) for f in keys): o for o in objs}
    inserted: set[tuple] = set()
    if _on_postgres():
        history = _HistoryOfInsert(model, objs, keys, default_user) if with_history else None
        rows = _insert_json(model, fields, keys, objs, history)
    else:
        rows = _insert_values(model, fields, keys, objs)
    alias = connection.alias
    for pk, *key in rows:
        obj = by_key[tuple(key)]
        obj.pk = pk
        mark_saved(obj, using=alias)  # a later save() updates, and finds the state inserted
        inserted.add(tuple(key))
    if with_history and not _on_postgres():
        claimed = [obj for obj in objs if obj.pk is not None]
        history_insert(model, claimed, default_user=default_user)
    return inserted


def _insert_values(model, fields, keys, objs) -> list[tuple]:
    """``INSERT ... VALUES ... ON CONFLICT DO NOTHING RETURNING pk, key`` (SQLite 3.35+), in
    chunks under the backend's parameter limit; the (pk, *key) rows inserted.

    Each value is what Django's own insert sends: the field's ``pre_save(obj, add=True)``
    (auto_now and the like), prepared by ``get_db_prep_save`` for this connection.
    """
    qn = connection.ops.quote_name
    meta = model._meta
    columns = ", ".join(qn(f.column) for f in fields)
    returning = ", ".join(qn(f.column) for f in [meta.pk, *keys])
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    per_statement = max(1, (connection.features.max_query_params or 999) // len(fields))
    rows: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start : start + per_statement]
            params = [
                field.get_db_prep_save(field.pre_save(obj, True), connection=connection)
                for obj in chunk
                for field in fields
            ]
            # Names come from model metadata, never from input.
            cursor.execute(
                f"INSERT INTO {qn(meta.db_table)} ({columns}) "  # noqa: S608
                f"VALUES {', '.join([row] * len(chunk))} "
                f"ON CONFLICT DO NOTHING RETURNING {returning}",
                params,
            )
            rows.extend(cursor.fetchall())
    return rows


class _HistoryOfInsert:
    """The "+" history rows of an `_insert_json` statement, written by the same statement.

    The history row copies the tracked columns from the row as inserted (``RETURNING``); the
    history-only columns come from the instances: the reason and user of each key (parallel
    arrays joined on the key), and one history date.
    """

    def __init__(self, model, objs, keys, default_user):
        copied, own = history_columns(model)
        if set(own) != HISTORY_OWN:
            # e.g. a correlation_id the model does not track: history_insert fills those.
            raise ValueError(f"{model.__name__}'s history has columns of its own: {own}")
        self.copied = [f.column for f in copied]
        self.table = model.history.model._meta.db_table
        self.keys = keys
        # In the order of the placeholders of sql().
        self.params = [
            timezone.now(),
            *([getattr(o, f.attname) for o in objs] for f in keys),
            [getattr(o, "_change_reason", "") or "" for o in objs],
            [user_id(o, default_user) for o in objs],
        ]

    def sql(self, qn) -> str:
        """The INSERT of the history rows, reading the CTE `ins` (the claim's RETURNING)."""
        keys = [qn(f.column) for f in self.keys]
        arrays = ", ".join(
            [f"%s::{f.db_type(connection)}[]" for f in self.keys] + ["%s::text[]", "%s::bigint[]"]
        )
        names = ", ".join([f"k{i}" for i in range(len(keys))] + ["reason", "user_id"])
        join = " AND ".join(f"ins.{key} = m.k{i}" for i, key in enumerate(keys))
        copied = ", ".join(qn(c) for c in self.copied)
        from_ins = ", ".join(f"ins.{qn(c)}" for c in self.copied)
        # Names and types come from model metadata, never from input.
        return (
            f"INSERT INTO {qn(self.table)} ({copied}, history_date, history_change_reason, "  # noqa: S608
            f"history_type, history_user_id) "
            f"SELECT {from_ins}, %s::timestamptz, m.reason, '+', m.user_id FROM ins "
            f"JOIN unnest({arrays}) AS m({names}) ON {join}"
        )


def json_default(value):
    if isinstance(value, Decimal):
        return str(value)  # exact; PostgreSQL casts the string to numeric
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _insert_json(model, fields, keys, objs, history: "_HistoryOfInsert | None") -> list[tuple]:
    """``INSERT ... SELECT ... FROM jsonb_populate_recordset(NULL::<table>, <rows as JSON>)
    ORDER BY <key> ON CONFLICT DO NOTHING RETURNING pk, key``.

    One statement and one parameter: the rows go as one JSON array (orjson, in C), and
    PostgreSQL casts each member to its column's type, as COPY would. As jsonb the array is
    parsed once, jsonb columns included (as json, each jsonb member is parsed again: 10%
    more PostgreSQL time on a batch of 1,000 events). Measured against the alternative of
    COPY into a session staging table: PostgreSQL spent 6 us less per event, Python 8 us more
    formatting the COPY rows. Rows go in in key order, so two transactions inserting
    overlapping keys take their index-tuple locks in the same order and cannot deadlock on
    this statement.
    """
    qn = connection.ops.quote_name
    columns = [f.column for f in fields]
    json_at = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
    build_row = row_builder(fields)
    rows = []
    for obj in objs:
        row = build_row(obj)
        for i in json_at:
            if row[i] is not None:
                row[i] = orjson.Fragment(row[i])  # already JSON text: embed, not quote
        rows.append(dict(zip(columns, row, strict=True)))
    payload = orjson.dumps(rows, default=json_default).decode()
    column_list = ", ".join(qn(c) for c in columns)
    table = qn(model._meta.db_table)
    returning = ", ".join(qn(c) for c in [model._meta.pk.column, *(f.column for f in keys)])
    # Names come from model metadata, never from input.
    claim = (
        f"INSERT INTO {table} ({column_list}) SELECT {column_list} "  # noqa: S608
        f"FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb) "
        f"ORDER BY {', '.join(qn(f.column) for f in keys)} ON CONFLICT DO NOTHING"
    )
    if history is None:
        return select_bound(f"{claim} RETURNING {returning}", [payload])
    # One statement: the history rows are made from the rows the claim inserted (the copied
    # columns include the pk and the keys).
    copied = ", ".join(qn(c) for c in history.copied)
    sql = (
        f"WITH ins AS ({claim} RETURNING {copied}), "  # noqa: S608
        f"hist AS ({history.sql(qn)}) SELECT {returning} FROM ins"
    )
    return select_bound(sql, [payload, *history.params])


def insert(model: type[models.Model], objs: list[models.Model]) -> None:
    """Insert `objs` (no conflicts expected: a unique violation raises IntegrityError)."""
    if not objs:
        return
    if not _on_postgres():
        model._default_manager.bulk_create(objs)
        return
    meta = model._meta
    qn = connection.ops.quote_name
    with connection.cursor() as cursor, connection.wrap_database_errors:
        raw = cursor.cursor
        raw.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [qn(meta.db_table), meta.pk.column, len(objs)],
        )
        for obj, (pk,) in zip(objs, raw.fetchall(), strict=True):
            obj.pk = pk
        fields = list(meta.concrete_fields)
        _copy(raw, meta.db_table, [f.column for f in fields], map(row_builder(fields), objs))
    alias = connection.alias
    for obj in objs:
        mark_saved(obj, using=alias)


def update_columns(model: type[models.Model], objs: list[models.Model], names: list[str]) -> None:
    """Write the fields `names` of the saved instances `objs`, in pk order, in one statement.

    For a model with ConcurrentTransitionMixin the guarantee of its save() holds row by row:
    a row is written only while its FSM state is still the one its instance was loaded or
    last saved with (the WHERE clause checks it). A row that moved on meanwhile raises
    ConcurrentTransition naming it; call this inside the unit of work's transaction, which
    the error rolls back whole. Afterwards the instances' states count as saved.
    No history rows (callers write them with `history_insert(..., history_type="~")`).
    """
    if not objs:
        return
    objs = sorted(objs, key=lambda o: o.pk)
    checked = concurrent_state_attnames(model)
    if _on_postgres():
        written = _update_columns_pg(model, objs, names, checked)
    else:
        written = _update_columns_values(model, objs, names, checked)
    if len(written) != len(objs):
        moved = sorted({obj.pk for obj in objs} - written)
        raise ConcurrentTransition(
            f"{model._meta.verbose_name} {', '.join(map(str, moved))}: the state changed "
            "since it was read; nothing was written"
        )
    for obj in objs:
        mark_states_saved(obj)


def _update_columns_values(model, objs, names, checked) -> set:
    """Elsewhere (SQLite 3.35+): ``UPDATE ... FROM (VALUES ...) ... RETURNING pk`` in chunks
    under the parameter limit (one statement for a posting batch), the values prepared by
    each field's ``get_db_prep_save`` as Django's own update prepares them."""
    meta = model._meta
    qn = connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    state_fields = [meta.get_field(name) for name in checked]
    width = 1 + len(fields) + len(state_fields)
    # VALUES names its columns column1, column2, ...: the pk, the new values, the states.
    assignments = ", ".join(f"{qn(f.column)} = v.column{2 + i}" for i, f in enumerate(fields))
    state_checks = "".join(
        f" AND t.{qn(f.column)} = v.column{2 + len(fields) + i}" for i, f in enumerate(state_fields)
    )
    row = "(" + ", ".join(["%s"] * width) + ")"
    per_statement = max(1, (connection.features.max_query_params or 999) // width)
    written = set()
    with connection.cursor() as cursor:
        for start in range(0, len(objs), per_statement):
            chunk = objs[start : start + per_statement]
            params = []
            for obj in chunk:
                expected = saved_states(obj)
                params.append(obj.pk)
                params.extend(
                    f.get_db_prep_save(getattr(obj, f.attname), connection=connection)
                    for f in fields
                )
                params.extend(expected[f.attname] for f in state_fields)
            # Names come from model metadata, never from input.
            cursor.execute(
                f"UPDATE {qn(meta.db_table)} AS t SET {assignments} "  # noqa: S608
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS v "
                f"WHERE t.{qn(meta.pk.column)} = v.column1{state_checks} "
                f"RETURNING {qn(meta.pk.column)}",
                params,
            )
            written.update(pk for (pk,) in cursor.fetchall())
    return written


def _update_columns_pg(model, objs, names, checked) -> set:
    meta = model._meta
    qn = connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    build_row = row_builder(fields)
    rows = [build_row(obj) for obj in objs]
    # Every value travels as text and is cast to its column's type in SQL.
    arrays = [[obj.pk for obj in objs]] + [
        [None if row[i] is None else str(row[i]) for row in rows] for i in range(len(fields))
    ]
    arrays += [[saved_states(obj)[name] for obj in objs] for name in checked]
    unnest = ", ".join(["%s::bigint[]"] + ["%s::text[]"] * (len(fields) + len(checked)))
    aliases = ", ".join(
        ["pk"] + [f"v{i}" for i in range(len(fields))] + [f"s{i}" for i in range(len(checked))]
    )
    assignments = ", ".join(
        f"{qn(f.column)} = v.v{i}::{f.db_type(connection)}" for i, f in enumerate(fields)
    )
    state_checks = "".join(
        f" AND t.{qn(meta.get_field(name).column)} = v.s{i}" for i, name in enumerate(checked)
    )
    # Names and types come from model metadata, never from input.
    returned = select_bound(
        f"UPDATE {qn(meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM unnest({unnest}) AS v({aliases}) WHERE t.{qn(meta.pk.column)} = v.pk"
        f"{state_checks} RETURNING t.{qn(meta.pk.column)}",
        arrays,
    )
    return {pk for (pk,) in returned}


def history_insert(
    model: type[models.Model],
    objs: list[models.Model],
    *,
    default_user=None,
    custom_historical_attrs: dict | None = None,
    history_type: str = "+",
) -> None:
    """Write the creation ("+") history row of each saved instance in `objs`.

    With history_type="~": the change row of instances just updated (their current values).

    The user and reason are each instance's `stamp()`; `custom_historical_attrs` fill the
    history-only columns (correlation_id) unless the model tracks a field of that name.
    """
    if not objs:
        return
    manager = model.history
    if not _on_postgres():
        manager.bulk_history_create(
            objs,
            default_user=default_user,
            custom_historical_attrs=custom_historical_attrs,
            update=history_type == "~",
        )
        return
    history_model = manager.model
    extra = custom_historical_attrs or {}
    now = timezone.now()
    # Tracked columns come from the instance; the history-only ones are filled per row below.
    copied, own = history_columns(model)
    for name in own:
        if name not in HISTORY_OWN and name not in extra:
            raise ValueError(f"no value for history column {name} of {model.__name__}")
    build = row_builder(copied)

    def row(obj: models.Model) -> list:
        values = build(obj)
        for name in own:
            if name == "history_date":
                values.append(now)
            elif name == "history_change_reason":
                values.append(getattr(obj, "_change_reason", "") or "")
            elif name == "history_type":
                values.append(history_type)
            elif name == "history_user_id":
                values.append(user_id(obj, default_user))
            else:
                values.append(extra[name])
        return values

    columns = [f.column for f in copied] + [history_model._meta.get_field(n).column for n in own]
    with connection.cursor() as cursor, connection.wrap_database_errors:
        _copy(cursor.cursor, history_model._meta.db_table, columns, map(row, objs))


def user_id(obj: models.Model, default_user):
    """The stamped user (None when stamped without one), else `default_user`: what
    simple-history's bulk_history_create, the SQLite path, records."""
    user = getattr(obj, "_history_user", default_user)
    return user.pk if user is not None else None
