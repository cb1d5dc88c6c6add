"""The sandbox ERP: a double-entry ledger in Concord's own database, with settable faults.

Tables: SandboxDocument (+ SandboxEntry lines), SandboxAccount (the chart), SandboxPeriod
(closed months). Faults come from `connection.settings`:

- `latency_ms`: sleep this long on every call;
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
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Exists
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
    def _call(self, operation: str) -> None:
        """Every call: latency, then outage, 503 and 429 faults (in that order)."""
        latency_ms = float(self.settings.get("latency_ms") or 0)
        if latency_ms > 0:
            self.sleep(latency_ms / 1000)
        if self._in_outage():
            raise RetryableError(f"sandbox {operation}: connection refused (outage)")
        if self._draw("error_rate"):
            raise RetryableError(f"sandbox {operation}: 503 service unavailable")
        if self._draw("rate_429"):
            raise RetryableError(
                f"sandbox {operation}: 429 too many requests", retry_after=RETRY_AFTER_SECONDS
            )

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
        self._call("find")
        return self._existing(external_id)

    def post(self, document: ErpDocument) -> PostResult:
        """Create the document unless it exists (created=False). Idempotent on external_id.

        Raises NonRetryableError (unknown account, unbalanced), PeriodClosedError,
        ParentMissingError, or RetryableError (faults, incl. a drop after the commit).
        """
        from erp_sync.documents import document_to_json

        self._call("post")
        existing = self._existing(document.external_id)
        if existing is not None:
            return existing
        self._validate(document)
        try:
            with transaction.atomic(durable=False):
                record = SandboxDocument.objects.create(
                    connection=self.connection,
                    external_id=document.external_id,
                    kind=document.kind,
                    number="",
                    entity=document.entity,
                    currency=document.currency,
                    total_amount=document.total,
                    tax_amount=document.tax_total,
                    document_date=document.document_date,
                    party_code=document.party.code,
                    parent_external_id=document.parent_external_id,
                    body=document_to_json(document),
                )
                record.number = f"SBX-{document.entity}-{record.pk:06d}"
                SandboxDocument.objects.filter(pk=record.pk).update(number=record.number)
                SandboxEntry.objects.bulk_create(
                    SandboxEntry(
                        document=record,
                        account=posting.account,
                        debit_amount=posting.debit,
                        credit_amount=posting.credit,
                        memo=posting.memo[:300],
                    )
                    for posting in document.postings
                )
        except IntegrityError:
            # Another worker created it between our look-up and our insert.
            existing = self._existing(document.external_id)
            if existing is None:
                raise
            return existing
        if self._draw("drop_after_commit_rate"):
            raise RetryableError("sandbox post: connection reset after commit")
        return _result(record, created=True)

    def list_documents(
        self, entity: str, period_start: dt.date, period_end: dt.date
    ) -> list[ListedDocument]:
        self._call("list_documents")
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
            self._call("health")
        except RetryableError as error:
            return Health(ok=False, detail=error.message)
        count = SandboxAccount.objects.filter(connection=self.connection).count()
        return Health(ok=True, detail=f"sandbox ledger reachable; {count} accounts in the chart")

    def missing_accounts(self, codes: set[str]) -> set[str]:
        self._call("missing_accounts")
        return self._missing(set(codes))

    # -- helpers ------------------------------------------------------------------------------
    def _existing(self, external_id: str) -> PostResult | None:
        record = SandboxDocument.objects.filter(
            connection=self.connection, external_id=external_id
        ).first()
        return _result(record, created=False) if record is not None else None

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

    def _validate(self, document: ErpDocument) -> None:
        codes = {p.account for p in document.postings} | {line.account for line in document.lines}
        if document.receivable_account:
            codes.add(document.receivable_account)
        month = document.document_date.replace(day=1)
        # One query for the chart and the period: each known account row carries whether
        # the document's month is closed.
        rows = (
            SandboxAccount.objects.filter(
                connection=self.connection, code__in={code for code in codes if code}
            )
            .annotate(
                period_closed=Exists(
                    SandboxPeriod.objects.filter(connection=self.connection, month=month)
                )
            )
            .values_list("code", "period_closed")
        )
        known = dict(rows)
        missing = self._unknown({code for code in codes if code}, set(known))
        if missing:
            raise NonRetryableError(
                f"sandbox: unknown account(s) {', '.join(sorted(missing))} in "
                f"{document.external_id}"
            )
        closed = (
            any(known.values())
            if known
            else SandboxPeriod.objects.filter(connection=self.connection, month=month).exists()
        )
        if closed:
            raise PeriodClosedError(
                f"sandbox: period {month:%Y-%m} is closed (document date "
                f"{document.document_date.isoformat()})"
            )
        if (
            document.kind in CHILD_KINDS
            and document.parent_external_id
            and not SandboxDocument.objects.filter(
                connection=self.connection, external_id=document.parent_external_id
            ).exists()
        ):
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


def _result(record: SandboxDocument, *, created: bool) -> PostResult:
    return PostResult(
        erp_id=str(record.pk),
        number=record.number,
        created=created,
        raw={"id": record.pk, "number": record.number, "external_id": record.external_id},
    )
