"""One-row statements for the one-event fast path (the counterpart of `bulk_write`).

`insert_with_history`: a new row, its history rows and the rows that belong to it, in ONE
statement on PostgreSQL::

    WITH ins AS (INSERT INTO <table> ... FROM jsonb_populate_record(...)
                 ON CONFLICT DO NOTHING RETURNING pk),
         hist AS (INSERT INTO <history table> ... FROM ins, jsonb_populate_recordset(...)),
         c0 AS (INSERT INTO <child table> (..., <fk>) SELECT ..., ins.pk FROM ins, ...)
    SELECT pk FROM ins

Measured on ingest_single (2026-12-07, tests/benchmarks/profile_single.py): a usage event
was 7 statements (BEGIN, claim, reads, usage INSERT, event UPDATE, history INSERT, COMMIT);
this and one read make it 2. In autocommit the statement is its own transaction: all or
nothing. When the row's unique key exists (a duplicate) nothing is written and None comes
back; a unique violation of a child row raises IntegrityError (Django's) with nothing
written. Built from the models' `_meta` and bulk_write's row builder, like bulk_write.
"""

from collections.abc import Sequence

import orjson
from django.db import connection, models

from billing.services.bulk_write import (
    HISTORY_OWN,
    history_columns,
    json_default,
    row_builder,
    select_bound,
    user_id,
)
from config.instances import mark_saved


def _json_row(fields: Sequence[models.Field], obj: models.Model) -> dict:
    values = row_builder(fields)(obj)
    out = {}
    for field, value in zip(fields, values, strict=True):
        if isinstance(field, models.JSONField) and value is not None:
            value = orjson.Fragment(value)  # already JSON text: embed, not quote
        out[field.column] = value
    return out


def insert_with_history(
    obj: models.Model,
    key_fields: tuple[str, ...],
    *,
    versions: Sequence[tuple[models.Model, str, object]],
    children: Sequence[tuple[models.Model, str]] = (),
    default_user=None,
) -> int | None:
    """PostgreSQL: insert `obj` unless a row with its `key_fields` exists, with one history
    row per (version, history_type, history_date) of `versions` (each version a copy of `obj`
    as it stood, stamped) and each (child, fk attname) of `children` pointing at it; all in
    one statement. Returns the new pk (set on `obj` and the children's fk, all marked
    saved), or None when the key existed (then nothing is written).
    """
    model = type(obj)
    meta = model._meta
    qn = connection.ops.quote_name
    table = qn(meta.db_table)
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    columns = ", ".join(qn(f.column) for f in fields)
    pk = qn(meta.pk.column)
    keys = ", ".join(qn(meta.get_field(name).column) for name in key_fields)
    params: list = [orjson.dumps(_json_row(fields, obj), default=json_default).decode()]
    # Names come from model metadata, never from input.
    parts = [
        f"ins AS (INSERT INTO {table} ({columns}) SELECT {columns} "  # noqa: S608
        f"FROM jsonb_populate_record(NULL::{table}, %s::jsonb) "
        f"ON CONFLICT ({keys}) DO NOTHING RETURNING {pk})"
    ]
    if versions:
        parts.append(_history_part(model, versions, default_user, params, qn))
    for number, (child, fk) in enumerate(children):
        child_meta = type(child)._meta
        child_table = qn(child_meta.db_table)
        child_fields = [
            f for f in child_meta.concrete_fields if not f.primary_key and f.attname != fk
        ]
        names = ", ".join(qn(f.column) for f in child_fields)
        from_record = ", ".join(f"c.{qn(f.column)}" for f in child_fields)
        fk_column = qn(child_meta.get_field(fk.removesuffix("_id")).column)
        parts.append(
            f"c{number} AS (INSERT INTO {child_table} ({names}, {fk_column}) "  # noqa: S608
            f"SELECT {from_record}, ins.{pk} FROM ins, "
            f"jsonb_populate_record(NULL::{child_table}, %s::jsonb) AS c)"
        )
        params.append(orjson.dumps(_json_row(child_fields, child), default=json_default).decode())
    rows = select_bound(f"WITH {', '.join(parts)} SELECT {pk} FROM ins", params)  # noqa: S608
    if not rows:
        return None
    obj.pk = rows[0][0]
    alias = connection.alias
    mark_saved(obj, using=alias)
    for child, fk in children:
        setattr(child, fk, obj.pk)
    # The children's pks are left unread (nothing needs them): they count as saved rows.
    for child, _ in children:
        child._state.adding = False
        child._state.db = alias
    return obj.pk


def _history_part(model, versions, default_user, params: list, qn) -> str:
    """The `hist` CTE: one history row per version, in the order given (history ids too)."""
    copied, own = history_columns(model)
    if set(own) != HISTORY_OWN:
        raise ValueError(f"{model.__name__}'s history has columns of its own: {own}")
    pk_attname = model._meta.pk.attname
    copied = [f for f in copied if f.attname != pk_attname]
    history = model.history.model
    history_table = qn(history._meta.db_table)
    rows = []
    for version, history_type, history_date in versions:
        row = _json_row(copied, version)
        row.update(
            history_date=history_date,
            history_change_reason=getattr(version, "_change_reason", "") or "",
            history_type=history_type,
            history_user_id=user_id(version, default_user),
        )
        rows.append(row)
    params.append(orjson.dumps(rows, default=json_default).decode())
    names = [qn(f.column) for f in copied] + [qn(name) for name in sorted(HISTORY_OWN)]
    own_pk = qn(history._meta.get_field(pk_attname).column)
    # Names come from model metadata, never from input.
    return (
        f"hist AS (INSERT INTO {history_table} ({', '.join(names)}, {own_pk}) "  # noqa: S608
        f"SELECT {', '.join(f'h.{name}' for name in names)}, ins.{qn(model._meta.pk.column)} "
        f"FROM ins, jsonb_populate_recordset(NULL::{history_table}, %s::jsonb) "
        f"WITH ORDINALITY AS h ORDER BY h.ordinality)"
    )
