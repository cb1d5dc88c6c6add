"""The sandbox ERP: a double-entry ledger in Concord's own database, with settable faults.

The ledger: a document (SandboxDocument, numbered SBX-<entity>-<id>) is a journal of
entries (SandboxEntry: account, debit, credit) that must balance, on accounts of the
connection's chart (SandboxAccount), dated in a month that is not closed (SandboxPeriod);
a payment, credit note, refund or write-off that names its parent document needs that parent
in the ledger first. Faults come from `connection.settings`:

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
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import TypeVar

from django.db import IntegrityError, transaction
from django.db import connection as db
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from erp_sync.adapters.base import (
    LIST_PAGE_SIZE,
    ChartAccount,
    ErpDocument,
    Health,
    ListedDocument,
    NonRetryableError,
    ParentMissingError,
    PeriodClosedError,
    PostResult,
    RetryableError,
    listed_flat,
)
from erp_sync.adapters.sandbox_listing import listing_page
from erp_sync.adapters.sandbox_sql import CHILD_KINDS, Lookup, account_codes, book, post_lookup
from erp_sync.models import SandboxAccount, SandboxDocument, SandboxEntry, SandboxPeriod

RETRY_AFTER_SECONDS = 2.0
# How far ahead `next_open_period` looks for a month that is not closed.
PERIOD_HORIZON_MONTHS = 24
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

    def document_pages(
        self,
        entity: str,
        period_start: dt.date,
        period_end: dt.date,
        *,
        page_size: int = LIST_PAGE_SIZE,
    ) -> Iterator[list[ListedDocument]]:
        """The entity's documents dated in the period, by id, `page_size` at a time; each
        page is one call (faults and latency apply per page). See `sandbox_listing`."""
        after = 0
        while True:
            page = self._call(
                "list_documents",
                lambda after=after: listing_page(
                    self.connection, entity, period_start, period_end, after, page_size
                ),
            )
            if page:
                yield [listed for _, listed in page]
            if len(page) < page_size:
                return
            after = page[-1][0]

    def list_documents(
        self, entity: str, period_start: dt.date, period_end: dt.date
    ) -> list[ListedDocument]:
        return listed_flat(self.document_pages(entity, period_start, period_end))

    def health(self) -> Health:
        """Never raises: an injected fault answers ok=False with what failed."""
        try:
            count = self._call("health", self._chart().count)
        except RetryableError as error:
            return Health(ok=False, detail=error.message)
        return Health(ok=True, detail=f"sandbox ledger reachable; {count} accounts in the chart")

    def missing_accounts(self, codes: set[str]) -> set[str]:
        return self._call("missing_accounts", lambda: self._unknown(set(codes)))

    def chart_of_accounts(self) -> list[ChartAccount]:
        """The connection's SandboxAccount rows, but the ones `reject_accounts` refuses."""
        rejected = set(self.settings.get("reject_accounts") or [])

        def read() -> list[ChartAccount]:
            rows = self._chart().order_by("code").values_list("code", "name")
            return [ChartAccount(code, name) for code, name in rows if code not in rejected]

        return self._call("chart_of_accounts", read)

    def period_open(self, day: dt.date) -> bool:
        """Whether the month holding `day` takes postings (no SandboxPeriod closes it)."""
        return self._call("period_open", lambda: not self._closed_months({_month(day)}))

    def next_open_period(self, day: dt.date) -> dt.date | None:
        """The first day of the first month after `day`'s that is not closed (within
        PERIOD_HORIZON_MONTHS; None beyond)."""
        months = [_month(day)]
        for _ in range(PERIOD_HORIZON_MONTHS):
            months.append(_month(months[-1] + dt.timedelta(days=32)))
        closed = self._call("next_open_period", lambda: self._closed_months(set(months[1:])))
        return next((month for month in months[1:] if month not in closed), None)

    # -- the ledger ---------------------------------------------------------------------------
    def _closed_months(self, months: set[dt.date]) -> set[dt.date]:
        return set(
            SandboxPeriod.objects.filter(connection=self.connection, month__in=months).values_list(
                "month", flat=True
            )
        )

    def _documents(self):
        return SandboxDocument.objects.filter(connection=self.connection)

    def _chart(self):
        return SandboxAccount.objects.filter(connection=self.connection)

    def _post(self, document: ErpDocument) -> PostResult:
        found = self._lookup(document)
        if found.existing is not None:
            return _result(*found.existing, document.external_id, created=False)
        self._check(document, found)
        try:
            with transaction.atomic(durable=False):
                pk, number = self._book(document)
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
        """Everything `post` reads about `document`, in one statement (sandbox_sql)."""
        return post_lookup(self.connection.pk, document)

    def _existing(self, external_id: str) -> PostResult | None:
        found = self._documents().filter(external_id=external_id).values_list("pk", "number")
        row = found.first()
        return _result(*row, external_id, created=False) if row else None

    def _check(self, document: ErpDocument, found: Lookup) -> None:
        """What the ledger refuses: unknown accounts, a closed month, a missing parent, a
        journal that does not balance."""
        missing = self._unknown(account_codes(document), known=found.accounts)
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

    def _unknown(self, codes: set[str], *, known: set[str] | None = None) -> set[str]:
        """The codes the chart does not hold (`known`: the chart's among them, read if not
        given), or that the settings reject."""
        if known is None:
            known = set(self._chart().filter(code__in=codes).values_list("code", flat=True))
        rejected = set(self.settings.get("reject_accounts") or [])
        return {code for code in codes if code not in known or code in rejected}

    def _book(self, document: ErpDocument) -> tuple[int, str]:
        """The document and its journal entries, numbered from its id (in the caller's
        transaction); (id, number)."""
        from erp_sync.documents import document_to_json

        if db.vendor == "postgresql":
            return book(
                document.entity,
                (
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
                ),
                [(p.account, p.debit, p.credit, p.memo[:300]) for p in document.postings],
            )
        created = SandboxDocument.objects.create(
            connection=self.connection,
            external_id=document.external_id,
            kind=document.kind,
            entity=document.entity,
            currency=document.currency,
            total_amount=document.total,
            tax_amount=document.tax_total,
            document_date=document.document_date,
            party_code=document.party.code,
            parent_external_id=document.parent_external_id,
            body=document_to_json(document),
        )
        created.number = _number(document.entity, created.pk)
        created.save(update_fields=["number"])
        SandboxEntry.objects.bulk_create(
            SandboxEntry(
                document=created,
                account=posting.account,
                debit_amount=posting.debit,
                credit_amount=posting.credit,
                memo=posting.memo[:300],
            )
            for posting in document.postings
        )
        return created.pk, created.number


def _result(pk: int, number: str, external_id: str, *, created: bool) -> PostResult:
    return PostResult(
        erp_id=str(pk),
        number=number,
        created=created,
        raw={"id": pk, "number": number, "external_id": external_id},
    )


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _number(entity: str, pk: int) -> str:
    return f"SBX-{entity}-{pk:06d}"
