"""The sandbox ERP: a double-entry ledger in Concord's own database, with settable faults.

Tables: SandboxDocument (+ SandboxEntry lines), SandboxAccount (the chart), SandboxPeriod
(closed months). Faults come from `connection.settings`:

- `latency_ms`: every call answers this long after it started; the sandbox's own reads and
  writes happen inside that time (it sleeps only the remainder), as a real ERP answering in
  `latency_ms` would. A call given a `deadline` that comes first sleeps until the deadline
  and raises RetryableError "timed out" (a post has then already committed its document,
  as a real ERP may have: the next attempt finds it);
- `error_rate`: fraction of calls raising RetryableError "503 service unavailable";
- `rate_429`: fraction of calls raising RetryableError "429" with `retry_after`;
- `outage`: list of {"start", "end"} ISO date-times during which every call raises
  RetryableError "connection refused";
- `drop_after_commit_rate`: fraction of posts that COMMIT the document, then raise
  RetryableError (the connection dropped before the answer arrived). A retry finds it by
  external id and answers created=False;
- `reject_accounts`: account codes treated as unknown even if they are in the chart.

Faults draw from `rng` (a random.Random); tests inject a seeded one, or one whose `random()`
returns what they need.

Transactions: `post` writes the document and its entries in their own atomic block. Because
the sandbox shares Concord's database, a caller that wraps `post` in its own transaction
would make the "ERP" roll back with the caller; a real ERP never does. So the sync engine
must call `post` OUTSIDE its own atomic block (as it must for any real ERP call).
A unique constraint on (connection, external_id) keeps a second document out even when two
workers race: the loser's IntegrityError is answered with the winner's document.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TypeVar

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from erp_sync.adapters.base import (
    ErpDocument,
    Health,
    ListedDocument,
    NonRetryableError,
    ParentMissingError,
    PeriodClosedError,
    PostResult,
    RetryableError,
)
from erp_sync.models import SandboxAccount, SandboxDocument, SandboxEntry, SandboxPeriod

# Document kinds that apply to an earlier document (when they name one).
CHILD_KINDS = ("credit_note", "payment", "refund", "write_off")
RETRY_AFTER_SECONDS = 2.0
T = TypeVar("T")


class SandboxAdapter:
    kind = "sandbox"

    def __init__(
        self,
        connection,
        *,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], dt.datetime] = timezone.now,
    ):
        self.connection = connection
        self.settings = dict(connection.settings or {})
        self.rng = rng or random.Random()
        self.sleep = sleep
        self.now = now

    # -- faults -------------------------------------------------------------------------------
    def _call(self, operation: str, work: Callable[[], T], deadline: float | None = None) -> T:
        """Every call: outage, 503 and 429 faults (in that order), else `work()`; the answer
        (or the fault) comes `latency_ms` after the call started, or a timeout at `deadline`
        (time.monotonic())."""
        started = time.monotonic()
        try:
            if self._in_outage():
                raise RetryableError(f"sandbox {operation}: connection refused (outage)")
            if self._draw("error_rate"):
                raise RetryableError(f"sandbox {operation}: 503 service unavailable")
            if self._draw("rate_429"):
                raise RetryableError(
                    f"sandbox {operation}: 429 too many requests", retry_after=RETRY_AFTER_SECONDS
                )
            return work()
        finally:
            self._answer_after(operation, started, deadline)

    def _answer_after(self, operation: str, started: float, deadline: float | None) -> None:
        """Sleep what is left of the latency; past `deadline`, time out instead."""
        latency = float(self.settings.get("latency_ms") or 0) / 1000
        answer_at = started + latency
        if deadline is not None and answer_at > deadline:
            self.sleep(max(deadline - time.monotonic(), 0.0))
            raise RetryableError(f"sandbox {operation}: timed out (no answer before the deadline)")
        left = answer_at - time.monotonic()
        if left > 0:
            self.sleep(left)

    def _draw(self, name: str) -> bool:
        rate = float(self.settings.get(name) or 0)
        return rate > 0 and self.rng.random() < rate

    def _in_outage(self) -> bool:
        now = self.now()
        for window in self.settings.get("outage") or []:
            start = parse_datetime(str(window.get("start", "")))
            end = parse_datetime(str(window.get("end", "")))
            if start is not None and end is not None and start <= now < end:
                return True
        return False

    # -- interface ----------------------------------------------------------------------------
    def find(self, external_id: str) -> PostResult | None:
        return self._call("find", lambda: self._existing(external_id))

    def post(self, document: ErpDocument, *, deadline: float | None = None) -> PostResult:
        """Create the document unless it exists (created=False). Idempotent on external_id.

        Raises NonRetryableError (unknown account, unbalanced), PeriodClosedError,
        ParentMissingError, or RetryableError (faults, incl. a drop after the commit, and a
        timeout at `deadline`).
        """
        return self._call("post", lambda: self._post(document), deadline)

    def _post(self, document: ErpDocument) -> PostResult:
        found = self._lookup(document)
        if found.existing is not None:
            return found.existing
        self._validate(document, found)
        try:
            with transaction.atomic(durable=False):
                pk, number = self._insert(document)
        except IntegrityError:
            # Another worker created it between our look-up and our insert.
            existing = self._existing(document.external_id)
            if existing is None:
                raise
            return existing
        if self._draw("drop_after_commit_rate"):
            raise RetryableError("sandbox post: connection reset after commit")
        return _result(pk, number, document.external_id, created=True)

    def _lookup(self, document: ErpDocument) -> Lookup:
        """Everything `post` reads, in one statement: the document if it exists, the known
        accounts among the document's, whether its month is closed and whether its parent
        is posted."""
        codes = sorted(_account_codes(document))
        month = connection.ops.adapt_datefield_value(document.document_date.replace(day=1))
        pk = self.connection.pk
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
                found.existing = _result(row_id, text, document.external_id, created=False)
            elif kind == "closed":
                found.closed = True
            elif kind == "account":
                found.accounts.add(text)
            else:
                found.parent_posted = True
        return found

    def _insert(self, document: ErpDocument) -> tuple[int, str]:
        """The document row, numbered from its id, and its entries."""
        from erp_sync.documents import document_to_json

        values = (
            self.connection.pk,
            document.external_id,
            document.kind,
            document.entity,
            document.currency,
            document.total,
            document.tax_total,
            document.document_date,
            document.party.code,
            document.parent_external_id,
            document_to_json(document),
            timezone.now(),
        )
        entries = [
            (posting.account, posting.debit, posting.credit, posting.memo[:300])
            for posting in document.postings
        ]
        if connection.vendor == "postgresql":
            return _insert_postgresql(document.entity, values, entries)
        [(pk,)] = _sql(
            _insert_sql(SandboxDocument, ("number", *DOCUMENT_COLUMNS), returning=True),
            _prepared(SandboxDocument, ("number", *DOCUMENT_COLUMNS), [("", *values)]),
        )
        number = _number(document.entity, pk)
        update = f"UPDATE {_table(SandboxDocument)} SET number = %s WHERE id = %s"  # noqa: S608
        _sql(update, [number, pk])
        if entries:
            rows = [(pk, *entry) for entry in entries]
            _sql(
                _insert_sql(SandboxEntry, ("document", *ENTRY_COLUMNS), rows=len(rows)),
                _prepared(SandboxEntry, ("document", *ENTRY_COLUMNS), rows),
            )
        return pk, number

    def list_documents(
        self, entity: str, period_start: dt.date, period_end: dt.date
    ) -> list[ListedDocument]:
        return self._call("list_documents", lambda: self._list(entity, period_start, period_end))

    def _list(self, entity: str, period_start: dt.date, period_end: dt.date):
        documents = SandboxDocument.objects.filter(
            connection=self.connection,
            entity=entity,
            document_date__gte=period_start,
            document_date__lte=period_end,
        ).order_by("document_date", "id")
        return [
            ListedDocument(
                external_id=d.external_id,
                kind=d.kind,
                number=d.number,
                currency=d.currency,
                total=d.total_amount,
                tax_total=d.tax_amount,
                document_date=d.document_date,
                party_code=d.party_code,
            )
            for d in documents
        ]

    def health(self) -> Health:
        """Never raises: an injected fault answers ok=False with what failed."""
        try:
            count = self._call(
                "health", SandboxAccount.objects.filter(connection=self.connection).count
            )
        except RetryableError as error:
            return Health(ok=False, detail=error.message)
        return Health(ok=True, detail=f"sandbox ledger reachable; {count} accounts in the chart")

    def missing_accounts(self, codes: set[str]) -> set[str]:
        return self._call("missing_accounts", lambda: self._missing(set(codes)))

    # -- helpers ------------------------------------------------------------------------------
    def _existing(self, external_id: str) -> PostResult | None:
        rows = _sql(
            f"SELECT id, number FROM {_table(SandboxDocument)} "  # noqa: S608
            "WHERE connection_id = %s AND external_id = %s",
            [self.connection.pk, external_id],
        )
        return _result(*rows[0], external_id, created=False) if rows else None

    def _missing(self, codes: set[str]) -> set[str]:
        known = set(
            SandboxAccount.objects.filter(connection=self.connection, code__in=codes).values_list(
                "code", flat=True
            )
        )
        return self._unknown(codes, known)

    def _unknown(self, codes: set[str], known: set[str]) -> set[str]:
        rejected = set(self.settings.get("reject_accounts") or [])
        return {code for code in codes if code not in known or code in rejected}

    def _validate(self, document: ErpDocument, found: Lookup) -> None:
        missing = self._unknown(_account_codes(document), found.accounts)
        if missing:
            raise NonRetryableError(
                f"sandbox: unknown account(s) {', '.join(sorted(missing))} in "
                f"{document.external_id}"
            )
        if found.closed:
            raise PeriodClosedError(
                f"sandbox: period {document.document_date:%Y-%m} is closed (document date "
                f"{document.document_date.isoformat()})"
            )
        if document.kind in CHILD_KINDS and document.parent_external_id and not found.parent_posted:
            raise ParentMissingError(
                f"sandbox: parent document {document.parent_external_id} is not posted"
            )
        debit = sum((p.debit for p in document.postings), Decimal(0))
        credit = sum((p.credit for p in document.postings), Decimal(0))
        if not document.postings or debit != credit:
            raise NonRetryableError(
                f"sandbox: document {document.external_id} does not balance "
                f"(debits {debit}, credits {credit})"
            )


def _result(pk: int, number: str, external_id: str, *, created: bool) -> PostResult:
    return PostResult(
        erp_id=str(pk),
        number=number,
        created=created,
        raw={"id": pk, "number": number, "external_id": external_id},
    )


# The sandbox's reads and writes are plain SQL: in the workers (and the benchmark) the
# sandbox runs beside the engine, and building ORM queries for every call cost more CPU than
# the engine's own work. Table and column names come from model metadata.
@dataclass
class Lookup:
    """What `SandboxAdapter._lookup` found."""

    existing: PostResult | None = None
    accounts: set[str] = field(default_factory=set)
    closed: bool = False
    parent_posted: bool = False


def _account_codes(document: ErpDocument) -> set[str]:
    codes = {p.account for p in document.postings} | {line.account for line in document.lines}
    codes.add(document.receivable_account)
    return {code for code in codes if code}


def _number(entity: str, pk: int) -> str:
    return f"SBX-{entity}-{pk:06d}"


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
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def _insert_sql(model, names: tuple[str, ...], *, rows: int = 1, returning: bool = False) -> str:
    columns = ", ".join(connection.ops.quote_name(model._meta.get_field(n).column) for n in names)
    row = f"({', '.join(['%s'] * len(names))})"
    sql = f"INSERT INTO {_table(model)} ({columns}) VALUES {', '.join([row] * rows)}"  # noqa: S608
    # RETURNING: PostgreSQL, and SQLite from 3.35.
    return f"{sql} RETURNING id" if returning else sql


def _prepared(model, names: tuple[str, ...], rows: list[tuple]) -> list:
    """The rows' values as the columns store them, flattened for `_insert_sql`."""
    fields = [model._meta.get_field(name) for name in names]
    return [
        field.get_db_prep_save(value, connection)
        for row in rows
        for field, value in zip(fields, row, strict=True)
    ]


def _insert_postgresql(entity: str, values: tuple, entries: list[tuple]) -> tuple[int, str]:
    """PostgreSQL: the document (its id drawn first, so its number is written with it) and
    its entries in one statement, which is its own transaction: one round trip, not five."""
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
    params = [
        documents,
        f"SBX-{entity}-",
        *_prepared(SandboxDocument, DOCUMENT_COLUMNS, [values]),
    ]
    if entries:
        entry_columns = ", ".join(
            qn(SandboxEntry._meta.get_field(name).column) for name in ENTRY_COLUMNS
        )
        row = f"({', '.join(cast(SandboxEntry, name) for name in ENTRY_COLUMNS)})"
        sql += (
            f", entries AS (INSERT INTO {_table(SandboxEntry)} "  # noqa: S608
            f"(document_id, {entry_columns}) SELECT document.id, v.* FROM document, "
            f"(VALUES {', '.join([row] * len(entries))}) AS v)"
        )
        params += _prepared(SandboxEntry, ENTRY_COLUMNS, entries)
    [(pk, number)] = _sql(f"{sql} SELECT id, number FROM document", params)  # noqa: S608
    return pk, number
