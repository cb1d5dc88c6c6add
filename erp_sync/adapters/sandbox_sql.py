"""The sandbox ledger's two statements on the posting path, in SQL because the erp_posting
benchmark measured the ORM's round trips and query building there (docs in each function).
Everything else the sandbox does is in the ORM (`erp_sync.adapters.sandbox`).

The sandbox runs beside the engine in the workers, so its CPU is the engine's CPU: with 16
worker threads on two cores, an all-ORM sandbox (four reads and three writes per post)
posted 0.20 of the bound where these two statements posted 0.29, measured back to back on
the same loaded machine (BENCH_SCALE=0.1). Table and column names come from model metadata.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from django.db import connection

from billing.services.bulk_write import select_bound
from erp_sync.adapters.base import ErpDocument
from erp_sync.models import SandboxAccount, SandboxDocument, SandboxEntry, SandboxPeriod

# Document kinds that apply to an earlier document (when they name one).
CHILD_KINDS = ("credit_note", "payment", "refund", "write_off")


@dataclass
class Lookup:
    """What `post_lookup` found: the document (id, number) if it exists, the known accounts,
    whether the month is closed, whether the parent is posted."""

    existing: tuple[int, str] | None = None
    accounts: set[str] = field(default_factory=set)
    closed: bool = False
    parent_posted: bool = False


def account_codes(document: ErpDocument) -> set[str]:
    codes = {p.account for p in document.postings} | {line.account for line in document.lines}
    codes.add(document.receivable_account)
    return {code for code in codes if code}


def post_lookup(connection_id: int, document: ErpDocument) -> Lookup:
    """Everything `post` reads, in one statement: the document if it exists, the known
    accounts among the document's, whether its month is closed and whether its parent
    is posted.

    erp_posting benchmark: one round trip instead of the ORM's four; the all-ORM sandbox
    posted 0.20 of the bound against 0.29 with this and `book` (same load).
    """
    codes = sorted(account_codes(document))
    month = connection.ops.adapt_datefield_value(document.document_date.replace(day=1))
    pk = connection_id
    documents, accounts = _table(SandboxDocument), _table(SandboxAccount)
    sql = [
        f"SELECT 'document', id, number FROM {documents} "  # noqa: S608
        "WHERE connection_id = %s AND external_id = %s",
        f"SELECT 'closed', NULL, NULL FROM {_table(SandboxPeriod)} "  # noqa: S608
        "WHERE connection_id = %s AND month = %s",
    ]
    params: list = [pk, document.external_id, pk, month]
    if codes:
        sql.append(
            f"SELECT 'account', NULL, code FROM {accounts} WHERE connection_id = %s "  # noqa: S608
            f"AND code IN ({', '.join(['%s'] * len(codes))})"
        )
        params += [pk, *codes]
    if document.kind in CHILD_KINDS and document.parent_external_id:
        sql.append(
            f"SELECT 'parent', id, NULL FROM {documents} "  # noqa: S608
            "WHERE connection_id = %s AND external_id = %s"
        )
        params += [pk, document.parent_external_id]
    found = Lookup()
    for kind, row_id, text in _sql(" UNION ALL ".join(sql), params):
        if kind == "document":
            found.existing = (row_id, text)
        elif kind == "closed":
            found.closed = True
        elif kind == "account":
            found.accounts.add(text)
        else:
            found.parent_posted = True
    return found


DOCUMENT_COLUMNS = (
    "connection",
    "external_id",
    "kind",
    "entity",
    "currency",
    "total_amount",
    "tax_amount",
    "document_date",
    "party_code",
    "parent_external_id",
    "body",
    "created_at",
)
ENTRY_COLUMNS = ("account", "debit_amount", "credit_amount", "memo")


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _sql(sql: str, params: list) -> list[tuple]:
    """The rows of `sql`: on PostgreSQL bound server-side (erp_posting: Django's cursor
    quoted every value into the statement's text)."""
    if connection.vendor == "postgresql":
        return select_bound(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _prepared(model, names: tuple[str, ...], rows: list[tuple]) -> list:
    """The rows' values as the columns store them, flattened."""
    fields = [model._meta.get_field(name) for name in names]
    return [
        field.get_db_prep_save(value, connection)
        for row in rows
        for field, value in zip(fields, row, strict=True)
    ]


def book(entity: str, values: tuple, entries: list[tuple]) -> tuple[int, str]:
    """PostgreSQL: the document (its id drawn first, so its number is written with it) and
    its entries in one statement: one round trip, not the ORM's create, numbering save and
    entries' bulk_create (erp_posting benchmark: see `post_lookup`)."""
    params = [
        _table(SandboxDocument),
        f"SBX-{entity}-",
        *_prepared(SandboxDocument, DOCUMENT_COLUMNS, [values]),
    ]
    if entries:
        params += _prepared(SandboxEntry, ENTRY_COLUMNS, entries)
    [(pk, number)] = _sql(_book_sql(len(entries)), params)
    return pk, number


@cache
def _book_sql(entry_count: int) -> str:
    """`book`'s statement for a document of `entry_count` entries, built once (erp_posting:
    building it, a column type looked up per value, was a tenth of a post's CPU)."""
    qn = connection.ops.quote_name

    def cast(model, name: str) -> str:
        return f"CAST(%s AS {model._meta.get_field(name).db_type(connection)})"

    documents = _table(SandboxDocument)
    columns = ", ".join(
        qn(SandboxDocument._meta.get_field(name).column) for name in DOCUMENT_COLUMNS
    )
    casts = ", ".join(cast(SandboxDocument, name) for name in DOCUMENT_COLUMNS)
    # Python's {pk:06d}: at least six digits.
    number = "%s || CASE WHEN n.id < 1000000 THEN lpad(n.id::text, 6, '0') ELSE n.id::text END"
    sql = (
        f"WITH n AS (SELECT nextval(pg_get_serial_sequence(%s, 'id')) AS id), "  # noqa: S608
        f"document AS (INSERT INTO {documents} (id, number, {columns}) "
        f"SELECT n.id, {number}, {casts} FROM n RETURNING id, number)"
    )
    if entry_count:
        entry_columns = ", ".join(
            qn(SandboxEntry._meta.get_field(name).column) for name in ENTRY_COLUMNS
        )
        row = f"({', '.join(cast(SandboxEntry, name) for name in ENTRY_COLUMNS)})"
        sql += (
            f", entries AS (INSERT INTO {_table(SandboxEntry)} "  # noqa: S608
            f"(document_id, {entry_columns}) SELECT document.id, v.* FROM document, "
            f"(VALUES {', '.join([row] * entry_count)}) AS v)"
        )
    return f"{sql} SELECT id, number FROM document"  # noqa: S608
