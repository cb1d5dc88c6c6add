"""One-row statements for the one-event fast path (the counterpart of `bulk_write`).

`insert_with_history`: a new row, its history rows and the rows that belong to it (each
`Child` with its own history rows and children, e.g. an invoice with its lines), in ONE
statement on PostgreSQL::

    WITH ins AS (INSERT INTO <table> ... FROM jsonb_populate_record(...)
                 ON CONFLICT DO NOTHING RETURNING pk),
         ins_h AS (INSERT INTO <history table> ... FROM ins, jsonb_populate_recordset(...)),
         c0 AS (INSERT INTO <child table> (..., <fk>) SELECT ..., ins.pk FROM ins, ...
                RETURNING pk),
         c0_h AS (INSERT INTO <child history table> (..., pk, <fk>) SELECT ..., c0.pk, ins.pk
                  FROM ins, c0, ...),
         c0_0 AS (INSERT INTO <grandchild table> (..., <fk>) SELECT ..., c0.pk FROM c0, ...)
    SELECT ins.pk, (SELECT pk FROM c0) FROM ins

Measured on ingest_single (2026-12-07, tests/benchmarks/profile_single.py): a usage event
was 7 statements (BEGIN, claim, reads, usage INSERT, event UPDATE, history INSERT, COMMIT);
this and one read make it 2. An invoice.issued event (15 statements) is one read and this
too (event, its two history rows, the invoice, its history row, its lines). In autocommit
the statement is its own transaction: all or nothing. When the row's unique key exists (a
duplicate) nothing is written and None comes back; a unique violation of a child row raises
IntegrityError (Django's) with nothing written. Built from the models' `_meta` and
bulk_write's row builder, like bulk_write.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import orjson
from django.db import connection, models
from django_fsm import ConcurrentTransition

from billing.services.bulk_write import (
    HISTORY_OWN,
    history_columns,
    json_default,
    row_builder,
    select_bound,
    user_id,
)
from config.fsm import concurrent_state_attnames, mark_states_saved, saved_states
from config.history import history_attrs
from config.instances import mark_saved

Version = tuple[object, str, object]  # (the row as it stood, history_type, history_date)


class Snapshot:
    """A row as it stands now, for a history row written later: a copy of the instance's
    attributes (field values by attname, the stamped user and reason), which is all a
    version is read for; cheaper than copying the model instance (measured on
    ingest_single: copy.copy of a FinanceEvent was a tenth of the fast path's Python)."""

    __slots__ = ("__dict__",)

    def __init__(self, obj: models.Model) -> None:
        self.__dict__ = obj.__dict__.copy()


class Fields(tuple):
    """A tuple of model fields, hashed and compared by identity: built once per model by the
    cached functions below, which are then keyed on it (Field.__hash__ is Python: hashing
    tuples of fields per request was a tenth of the fast path's Python, ingest_single)."""

    __slots__ = ()
    __hash__ = object.__hash__

    def __eq__(self, other) -> bool:
        return self is other

    def __ne__(self, other) -> bool:
        return self is not other


# The statements' pieces are built once per model and shape, not per request (measured on
# ingest_single: building them was a third of the fast path's Python).
@cache
def _row_plan(fields: Fields):
    return row_builder(fields), [(f.column, isinstance(f, models.JSONField)) for f in fields]


def _json_row(fields: Fields, obj: models.Model) -> dict:
    build, columns = _row_plan(fields)
    out = {}
    for (column, is_json), value in zip(columns, build(obj), strict=True):
        if is_json and value is not None:
            value = orjson.Fragment(value)  # already JSON text: embed, not quote
        out[column] = value
    return out


@cache
def _own_fields(model: type[models.Model], fk: str | None = None) -> Fields:
    """The concrete fields of `model` but its pk (and the foreign key attname `fk`)."""
    return Fields(f for f in model._meta.concrete_fields if not f.primary_key and f.attname != fk)


@dataclass
class Child:
    """Rows written with a new row and pointing at it: `objs` (unsaved instances of one
    model), whose foreign key attname `fk` takes the new row's pk; with one obj, `versions`
    (its history rows: (copy as it stood, stamped; history_type; history_date)) and
    `children` of its own may follow. A Child of several objs takes neither: its rows would
    need a key to tell which history row or grandchild belongs to which."""

    objs: Sequence[models.Model]
    fk: str
    versions: Sequence[Version] = ()
    children: Sequence["Child"] = ()


@dataclass
class Update:
    """Saved rows `objs` (of one model, changed in memory: an FSM transition) whose `fields`
    are written with the new row, each only while its FSM state is the one it was loaded with
    (as ConcurrentTransitionMixin's save() checks), with their history rows `versions`."""

    objs: Sequence[models.Model]
    fields: Sequence[str]
    versions: Sequence[Version] = ()


def insert_with_history(
    obj: models.Model,
    key_fields: tuple[str, ...],
    *,
    versions: Sequence[Version],
    children: Sequence[Child] = (),
    updates: Sequence[Update] = (),
    default_user=None,
) -> int | None:
    """PostgreSQL: insert `obj` unless a row with its `key_fields` exists, with one history
    row per (version, history_type, history_date) of `versions` (each version a copy of `obj`
    as it stood, stamped), the rows of `children` (see Child) and the changes of `updates`
    (see Update), all in one statement.

    Returns the new pk (set on `obj`, on the children's fk and, for one-row children, their
    own pk; all marked saved), or None when the key existed (then nothing is written).
    Raises ConcurrentTransition when a row of `updates` is no longer in the state its
    instance was loaded with: call it in the unit of work's transaction, which that rolls
    back (the rows should be locked: then it does not happen).
    """
    qn = connection.ops.quote_name
    model = type(obj)
    fields = _own_fields(model)
    head, pk = _insert_head(model, key_fields)
    params: list = [orjson.dumps(_json_row(fields, obj), default=json_default).decode()]
    parts = [head]
    if versions:
        parts.append(_history_part(("ins", pk), model, versions, {}, default_user, params))
    singles: list[tuple[str, Child]] = []
    _child_parts(("ins", pk), children, default_user, parts, params, singles)
    returned = "".join(
        f", (SELECT {qn(type(c.objs[0])._meta.pk.column)} FROM {name})"  # noqa: S608
        for name, c in singles
    )
    for number, update in enumerate(u for u in updates if u.objs):
        parts.extend(_update_parts(f"u{number}", update, default_user, params))
        returned += f", (SELECT count(*) FROM u{number})"  # noqa: S608
    sql = f"WITH {', '.join(parts)} SELECT ins.{pk}{returned} FROM ins"  # noqa: S608
    rows = select_bound(sql, params, prepare=True)
    if not rows:
        return None
    counts = rows[0][1 + len(singles) :]
    expected = [len(u.objs) for u in updates if u.objs]
    if list(counts) != expected:
        raise ConcurrentTransition(
            f"rows changed state since they were read ({counts} of {expected} written)"
        )
    rows = [rows[0][: 1 + len(singles)]]
    for update in updates:
        for row in update.objs:
            mark_states_saved(row)
    alias = connection.alias
    obj.pk = rows[0][0]
    mark_saved(obj, using=alias)
    pks = {"ins": obj.pk} | {name: pk for (name, _), pk in zip(singles, rows[0][1:], strict=True)}
    _mark_children("ins", children, pks, alias)
    return obj.pk


@cache
def _insert_head(model: type[models.Model], key_fields: tuple[str, ...]) -> tuple[str, str]:
    """(the `ins` CTE inserting one row of `model` unless its `key_fields` exist, its pk
    column quoted)."""
    qn = connection.ops.quote_name
    meta = model._meta
    table = qn(meta.db_table)
    columns = ", ".join(qn(f.column) for f in _own_fields(model))
    pk = qn(meta.pk.column)
    keys = ", ".join(qn(meta.get_field(name).column) for name in key_fields)
    # Names come from model metadata, never from input.
    return (
        f"ins AS (INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608
        f"FROM jsonb_populate_record(NULL::{table}, %s::jsonb) "
        f"ON CONFLICT ({keys}) DO NOTHING RETURNING {pk})"
    ), pk


def _mark_children(parent: str, children: Sequence[Child], pks: dict, alias: str) -> None:
    for number, child in enumerate(c for c in children if c.objs):
        name = _cte_name(parent, number)
        for row in child.objs:
            setattr(row, child.fk, pks[parent])
            if len(child.objs) == 1:
                row.pk = pks[name]
                mark_saved(row, using=alias)
            else:
                # Their pks are left unread (nothing needs them): they count as saved rows.
                row._state.adding = False
                row._state.db = alias
        _mark_children(name, child.children, pks, alias)


def _cte_name(parent: str, number: int) -> str:
    return f"c{number}" if parent == "ins" else f"{parent}_{number}"


def _child_parts(
    parent: tuple[str, str], children: Sequence[Child], default_user, parts, params, singles
) -> None:
    """One CTE per child (c0, c1... of `ins`; c0_0... of c0) and one for its history rows
    (c0_h); `parent` is (its CTE, the pk column it returns)."""
    qn = connection.ops.quote_name
    for number, child in enumerate(c for c in children if c.objs):
        name = _cte_name(parent[0], number)
        child_model = type(child.objs[0])
        child_meta = child_model._meta
        links = {child.fk: parent}
        child_fields = _own_fields(child_model, child.fk)
        rows = [_json_row(child_fields, row) for row in child.objs]
        params.append(orjson.dumps(rows, default=json_default).decode())
        child_pk = qn(child_meta.pk.column)
        parts.append(
            _insert_select(name, child_model, child_fields, links, len(rows), returning=child_pk)
        )
        if len(child.objs) != 1:
            if child.versions or child.children:
                raise ValueError("only a Child of one row may have versions or children")
            continue
        singles.append((name, child))
        if child.versions:
            parts.append(
                _history_part((name, child_pk), child_model, child.versions, links, default_user,
                              params)
            )  # fmt: skip
        _child_parts((name, child_pk), child.children, default_user, parts, params, singles)


def _insert_select(
    name: str,
    model: type[models.Model],
    fields: Fields,
    links: dict[str, tuple[str, str]],
    count: int,
    *,
    returning: str = "",
    after: str = "",
) -> str:
    """`name AS (INSERT INTO <table> (<fields>, <links>) SELECT r.<fields>, <cte>.<pk>...
    FROM <the links' CTEs>, <the next parameter's rows> ...)`, rows in the order given;
    `links` maps an attname to the (CTE, column) whose one row gives its value."""
    return _insert_select_sql(name, model, fields, tuple(links.items()), count, returning, after)


@cache
def _insert_select_sql(name, model, fields, links_items, count, returning, after) -> str:
    links = dict(links_items)
    qn = connection.ops.quote_name
    meta = model._meta
    by_attname = {f.attname: f for f in meta.concrete_fields}
    names = [qn(f.column) for f in fields] + [qn(by_attname[a].column) for a in links]
    values = [f"r.{qn(f.column)}" for f in fields] + [f"{c}.{col}" for c, col in links.values()]
    sources = after + "".join(f"{cte}, " for cte in dict.fromkeys(c for c, _ in links.values()))
    table = qn(meta.db_table)
    # Names come from model metadata, never from input.
    return (
        f"{name} AS (INSERT INTO {table} ({', '.join(names)}) "  # noqa: S608
        f"SELECT {', '.join(values)} FROM {sources}"
        f"{_rows(f'jsonb_populate_recordset(NULL::{table}, %s::jsonb) WITH ORDINALITY', count)} "
        f"ORDER BY r.ordinality{f' RETURNING {returning}' if returning else ''})"
    )


def _update_parts(name: str, update: Update, default_user, params: list) -> list[str]:
    """`name AS (UPDATE ... FROM ins, <rows> WHERE pk = ... AND <states as loaded>
    RETURNING pk)` and `<name>_h`, its history rows (only when `ins` inserted a row)."""
    qn = connection.ops.quote_name
    model = type(update.objs[0])
    meta = model._meta
    fields = [meta.get_field(name) for name in update.fields]
    checked = concurrent_state_attnames(model)
    values = row_builder(fields)
    rows = []
    for obj in update.objs:
        row = {"pk": obj.pk, **{f"v{i}": v for i, v in enumerate(values(obj))}}
        states = saved_states(obj)
        row.update({f"s{i}": states[attname] for i, attname in enumerate(checked)})
        rows.append(row)
    params.append(orjson.dumps(rows, default=json_default).decode())
    pk = qn(meta.pk.column)
    types = [f"pk {meta.pk.db_type(connection)}"]
    types += [f"v{i} {f.db_type(connection)}" for i, f in enumerate(fields)]
    types += [f"s{i} text" for i in range(len(checked))]
    columns = ", ".join(types)
    assignments = ", ".join(f"{qn(f.column)} = r.v{i}" for i, f in enumerate(fields))
    state_checks = "".join(
        f" AND t.{qn(meta.get_field(attname).column)} = r.s{i}" for i, attname in enumerate(checked)
    )
    # Names and types come from model metadata, never from input.
    parts = [
        f"{name} AS (UPDATE {qn(meta.db_table)} AS t SET {assignments} "  # noqa: S608
        f"FROM ins, {_rows(f'jsonb_to_recordset(%s::jsonb) AS x({columns})', len(rows))} "
        f"WHERE t.{pk} = r.pk{state_checks} RETURNING t.{pk})"
    ]
    if update.versions:
        parts.append(_history_part(None, model, update.versions, {}, default_user, params, name))
    return parts


def _history_part(
    owner: tuple[str, str] | None,
    model,
    versions,
    links: dict,
    default_user,
    params: list,
    name: str = "",
) -> str:
    """The `<owner>_h` CTE: one history row per version, in the order given (history ids
    too); its copy of the pk from `owner` (CTE, pk column), its copies of `links` (the
    row's own links) from theirs. Without an owner (rows that exist: `<name>_h`) the pk is
    the version's, and the rows are written only when `ins` inserted its row."""
    history_links = {model._meta.pk.attname: owner, **links} if owner else {}
    copied, written, extra_names = _history_plan(model, frozenset(history_links))
    attrs = history_attrs()
    extra = {name: attrs[name] for name in extra_names}
    rows = []
    for version, history_type, history_date in versions:
        row = _json_row(copied, version)
        row.update(
            extra,
            history_date=history_date,
            history_change_reason=getattr(version, "_change_reason", "") or "",
            history_type=history_type,
            history_user_id=user_id(version, default_user),
        )
        rows.append(row)
    params.append(orjson.dumps(rows, default=json_default).decode())
    return _insert_select(
        f"{owner[0] if owner else name}_h",
        model.history.model,
        written,
        history_links,
        len(rows),
        after="" if owner else "ins, ",
    )


@cache
def _history_plan(model, linked: frozenset) -> tuple[Fields, Fields, tuple]:
    """(the history fields copying the model's own but `linked` attnames, those and the
    history-only fields (the columns written), the names of those filled from
    `history_attrs`)."""
    copied, own = history_columns(model)
    extra = tuple(name for name in own if name not in HISTORY_OWN)
    if not set(extra) <= history_attrs().keys():
        raise ValueError(f"{model.__name__}'s history has columns of its own: {own}")
    history = model.history.model
    own_fields = tuple(history._meta.get_field(column) for column in sorted(own))
    copied = Fields(f for f in copied if f.attname not in linked)
    return copied, Fields(copied + own_fields), extra


def _rows(function: str, count: int) -> str:
    """`(SELECT * FROM <function> LIMIT <count>) AS r`: the rows of a JSON parameter with
    the planner told how many (measured on ingest_single: estimating a set-returning
    function's 100 rows per CTE, a payment's statement was costed in the millions and
    JIT-compiled, a second of CPU)."""
    return f"(SELECT * FROM {function} LIMIT {int(count)}) AS r"  # noqa: S608
