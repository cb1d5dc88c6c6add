"""The Tryton adapter: Concord documents as Tryton invoices, payments and moves (JSON-RPC).

What each document kind becomes in Tryton (account_invoice 8.2):
- invoice: an `account.invoice` (type out) with `reference` = external id, then posted.
- credit_note: the same with negative quantities (Tryton numbers it in the credit-note
  sequence); the parent invoice, when named, must exist.
- payment: the invoice `account.invoice.pay` wizard on the parent invoice; the payment move's
  `description` holds the external id (moves have no reference field).
- settlement: a supplier invoice (vendor bill): an `account.invoice` of type in to the
  partner (party created if missing), on the payable account, its line on the commission
  expense account, `reference` = external id, then posted.
- refund, write_off: a posted `account.move` built from `document.postings`
  (description = external id). A write-off whose move clears the parent invoice's open amount
  exactly is reconciled with it, so the invoice becomes paid.

Idempotency: `post` always looks the external id up first (`find`) and returns what exists
(`created=False`); an invoice left in draft by an earlier crash is posted, not duplicated.
Tryton numbers invoices in a strict sequence locked without waiting: post with concurrency 1
per Tryton company, or expect RetryableError (HTTP 503) on contention.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal

from erp_sync.adapters.base import (
    DOCUMENT_KINDS,
    LIST_PAGE_SIZE,
    ErpDocument,
    ErpError,
    Health,
    ListedDocument,
    NonRetryableError,
    ParentMissingError,
    PostResult,
    listed_flat,
)
from erp_sync.adapters.jsonrpc import TrytonRpc
from erp_sync.adapters.tryton_listing import document_pages
from erp_sync.adapters.tryton_lookups import POSTABLE_STATES, TrytonLookups

INVOICE_KINDS = ("invoice", "credit_note")
MOVE_KINDS = ("refund", "write_off")
# Which Tryton journal (by type) carries each move-based kind.
MOVE_JOURNAL_TYPES = {"refund": "cash", "write_off": "write-off", "settlement": "general"}


class TrytonAdapter(TrytonLookups):
    """ErpAdapter for one Tryton database and company. Not thread-safe: one per worker."""

    kind = "tryton"

    def __init__(
        self,
        url: str,
        database: str,
        login: str,
        password: str,
        *,
        company_id: int | None = None,
        payment_method: str = "Concord bank transfer",
        timeout: float = 30.0,
        rpc: TrytonRpc | None = None,
    ):
        self.rpc = rpc or TrytonRpc(url, database, login, password, timeout=timeout)
        self.company_id = company_id
        self.payment_method_name = payment_method
        self._accounts: dict[str, dict] = {}
        self._cache: dict[tuple[str, str], int] = {}

    # -- the interface -------------------------------------------------------------------
    def find(self, external_id: str) -> PostResult | None:
        """The invoice (by reference) or move (by description) holding `external_id`."""
        invoice = self._invoice_by_reference(external_id)
        if invoice and invoice["state"] not in POSTABLE_STATES:
            return _invoice_result(invoice, created=False)
        move = self._move_by_description(external_id)
        if move:
            return _move_result(move, created=False)
        return None

    def post(self, document: ErpDocument, *, deadline: float | None = None) -> PostResult:
        """Post `document` once. Idempotent on `document.external_id`.

        No request is sent, nor waited for, past `deadline` (time.monotonic()): a call cut
        short leaves at most a draft the next attempt finds and posts.
        """
        self.rpc.deadline = deadline
        try:
            return self._post_document(document)
        finally:
            self.rpc.deadline = None

    def _post_document(self, document: ErpDocument) -> PostResult:
        if document.kind not in DOCUMENT_KINDS:
            raise NonRetryableError(f"unknown document kind {document.kind!r}")
        invoice = self._invoice_by_reference(document.external_id)
        if invoice:
            if invoice["state"] in POSTABLE_STATES:
                # Created by an earlier attempt that failed before (or while) posting, e.g. on
                # a closed period: take this attempt's dates, then post.
                self._model("account.invoice", "write", [invoice["id"]], _dates(document))
                self._acknowledging(lambda: self._model("account.invoice", "post", [invoice["id"]]))
                invoice = self._invoice_by_id(invoice["id"])
            return _invoice_result(invoice, created=False)
        move = self._move_by_description(document.external_id)
        if move:
            return _move_result(move, created=False)
        if document.kind in INVOICE_KINDS:
            return self._post_invoice(document)
        if document.kind == "payment":
            return self._post_payment(document)
        if document.kind == "settlement":
            return self._post_vendor_bill(document)
        return self._post_move(document)

    def document_pages(
        self,
        entity: str,
        period_start: dt.date,
        period_end: dt.date,
        *,
        page_size: int = LIST_PAGE_SIZE,
    ) -> Iterator[list[ListedDocument]]:
        """Invoices (out and in, every state) and Concord's moves of the adapter's company
        dated in the period, page by page (see `tryton_listing`). The company is the
        connection's: one connection serves one entity, so `entity` needs no other filter."""
        return document_pages(self, period_start, period_end, page_size)

    def list_documents(
        self, entity: str, period_start: dt.date, period_end: dt.date
    ) -> list[ListedDocument]:
        return listed_flat(self.document_pages(entity, period_start, period_end))

    def health(self) -> Health:
        """Log in afresh and run one cheap read. Never raises."""
        started = time.monotonic()
        try:
            self.rpc.login()
            self._model("account.journal", "search", [], 0, 1, None)
        except ErpError as exc:
            return Health(ok=False, detail=f"{exc.code}: {exc.message}")
        except Exception as exc:
            return Health(ok=False, detail=f"unexpected: {exc!r}")
        return Health(ok=True, detail=f"login + read in {time.monotonic() - started:.3f} s")

    def missing_accounts(self, codes: set[str]) -> set[str]:
        self._load_accounts(codes)
        return {code for code in codes if code not in self._accounts}

    # -- invoices and credit notes -------------------------------------------------------
    def _post_invoice(self, document: ErpDocument) -> PostResult:
        if not document.lines:
            raise NonRetryableError(f"{document.external_id}: an invoice needs lines")
        parent_id = document.parent_external_id
        if (
            document.kind == "credit_note"
            and parent_id
            and not self._invoice_by_reference(parent_id)
        ):
            raise ParentMissingError(f"invoice {document.parent_external_id} is not in Tryton yet")
        sign = -1 if document.kind == "credit_note" else 1
        receivable = self._account_id(document.receivable_account)
        currency_id = self._currency_id(document.currency)
        lines = []
        for line in document.lines:
            values = {
                "type": "line",
                # Nested lines do not inherit the invoice currency before validation.
                "currency": currency_id,
                "account": self._account_id(line.account),
                "description": line.description or document.memo or document.external_id,
                # quantity is a float field in Tryton; prices and amounts stay Decimal.
                "quantity": float(sign * abs(line.quantity)),
                "unit_price": abs(line.unit_price),
            }
            if line.tax_code:
                values["taxes"] = [("add", [self._tax_id(line.tax_code)])]
            lines.append(values)
        party_id, address_id = self._party(document)
        values = {
            "type": "out",
            "company": self._company_id(),
            "party": party_id,
            "invoice_address": address_id,
            "account": receivable,
            "journal": self._journal_id("revenue"),
            "currency": currency_id,
            **_dates(document),
            "reference": document.external_id,
            "description": (document.memo or document.reference or "")[:250] or None,
            "lines": [("create", lines)],
        }
        (invoice_id,) = self._model("account.invoice", "create", [values])
        invoice = self._invoice_by_id(invoice_id)
        expected = sign * abs(document.total)
        if Decimal(invoice["total_amount"]) != expected:
            # Do not post what does not match Concord; leave nothing behind to find later.
            self._model("account.invoice", "delete", [invoice_id])
            raise NonRetryableError(
                f"{document.external_id}: Tryton computes total {invoice['total_amount']}"
                f" (tax {invoice['tax_amount']}), Concord says {expected}",
                raw=invoice,
            )
        self._acknowledging(lambda: self._model("account.invoice", "post", [invoice_id]))
        return _invoice_result(self._invoice_by_id(invoice_id), created=True)

    # -- settlements: supplier invoices (vendor bills) ------------------------------------
    def _post_vendor_bill(self, document: ErpDocument) -> PostResult:
        """A supplier invoice of exactly `document.total` to the partner: one line per document
        line (the commission expense account), the payable account, no tax. A negative total
        (clawbacks outweigh) is the same invoice with negative quantities."""
        if not document.lines:
            raise NonRetryableError(f"{document.external_id}: a vendor bill needs lines")
        currency_id = self._currency_id(document.currency)
        lines = [
            {
                "type": "line",
                "currency": currency_id,
                "account": self._account_id(line.account),
                "description": line.description or document.memo or document.external_id,
                "quantity": float(line.quantity if line.amount >= 0 else -abs(line.quantity)),
                "unit_price": abs(line.unit_price),
            }
            for line in document.lines
        ]
        party_id, address_id = self._party(document)
        values = {
            "type": "in",
            "company": self._company_id(),
            "party": party_id,
            "invoice_address": address_id,
            "account": self._account_id(document.receivable_account),
            "journal": self._journal_id("expense"),
            "currency": currency_id,
            **_dates(document),
            "reference": document.external_id,
            "description": (document.memo or document.reference or "")[:250] or None,
            "lines": [("create", lines)],
        }
        (invoice_id,) = self._model("account.invoice", "create", [values])
        invoice = self._invoice_by_id(invoice_id)
        if Decimal(invoice["total_amount"]) != document.total:
            self._model("account.invoice", "delete", [invoice_id])
            raise NonRetryableError(
                f"{document.external_id}: Tryton computes total {invoice['total_amount']},"
                f" Concord says {document.total}",
                raw=invoice,
            )
        self._acknowledging(lambda: self._model("account.invoice", "post", [invoice_id]))
        return _invoice_result(self._invoice_by_id(invoice_id), created=True)

    # -- payments ------------------------------------------------------------------------
    def _post_payment(self, document: ErpDocument) -> PostResult:
        parent = self._parent_invoice(document)
        if parent["currency.code"] != document.currency:
            raise NonRetryableError(
                f"{document.external_id}: payment in {document.currency}, invoice"
                f" {document.parent_external_id} in {parent['currency.code']}"
            )
        start = {
            "amount": abs(document.total),
            "description": document.external_id,
            "payment_method": self._payment_method_id(),
            "date": document.document_date,
        }
        self._acknowledging(
            lambda: self.rpc.wizard(
                "account.invoice.pay",
                model="account.invoice",
                record_ids=[parent["id"]],
                # A partial payment keeps the rest open; an overpayment stays on the party.
                answers={"start": ("choice", start), "ask": ("pay", {})},
            )
        )
        move = self._move_by_description(document.external_id)
        if not move:
            raise NonRetryableError(f"{document.external_id}: the pay wizard created no move")
        return _move_result(move, created=True)

    # -- refunds and write-offs ------------------------------------------------
    def _post_move(self, document: ErpDocument) -> PostResult:
        if not document.is_balanced():
            raise NonRetryableError(
                f"{document.external_id}: a {document.kind} needs balanced postings"
            )
        parent = None
        if document.parent_external_id:
            parent = self._parent_invoice(document)
        party_id, _ = self._party(document)
        lines = []
        for posting in document.postings:
            account = self._account(posting.account)
            values = {
                "account": account["id"],
                "debit": posting.debit,
                "credit": posting.credit,
                "description": posting.memo or None,
            }
            if account["party_required"]:
                values["party"] = parent["party"] if parent else party_id
            lines.append(values)
        values = {
            "company": self._company_id(),
            "journal": self._journal_id(MOVE_JOURNAL_TYPES[document.kind]),
            "date": document.document_date,
            "period": self._period_id(document.document_date),
            "description": document.external_id,
            "lines": [("create", lines)],
        }
        (move_id,) = self._model("account.move", "create", [values])
        self._acknowledging(lambda: self._model("account.move", "post", [move_id]))
        if document.kind == "write_off" and parent:
            self._reconcile_with_invoice(move_id, parent)
        (move,) = self._search_read("account.move", [("id", "=", move_id)], ["number", "state"])
        return _move_result(move, created=True)

    def _reconcile_with_invoice(self, move_id: int, invoice: dict) -> None:
        """Reconcile the move's receivable line with the invoice's open lines if they cancel.

        Open lines are the invoice's unreconciled lines to pay and payment lines (partial
        payments). When they do not cancel exactly the move stays posted but unreconciled.
        """
        open_lines = self._search_read(
            "account.move.line",
            [
                ("reconciliation", "=", None),
                [
                    "OR",
                    ("move", "=", move_id),
                    ("id", "in", invoice["lines_to_pay"] + invoice["payment_lines"]),
                ],
                ("account", "=", invoice["account"]),
            ],
            ["debit", "credit"],
        )
        balance = sum((Decimal(r["debit"]) - Decimal(r["credit"]) for r in open_lines), Decimal(0))
        if len(open_lines) > 1 and balance == 0:
            line_ids = [row["id"] for row in open_lines]
            # Balanced lines: the wizard reconciles in its first transition, no form shown.
            self.rpc.wizard(
                "account.move.reconcile_lines",
                model="account.move.line",
                record_ids=line_ids,
                answers={},
            )


def _dates(document: ErpDocument) -> dict:
    """invoice_date is the document's; extra['accounting_date'] moves only the accounting.

    The sync engine's "post to the next open period, original date kept" policy sets
    `extra={"accounting_date": <a date in an open period>}`.
    """
    return {
        "invoice_date": document.document_date,
        "accounting_date": document.extra.get("accounting_date"),
    }


def _invoice_result(invoice: dict, *, created: bool) -> PostResult:
    return PostResult(
        erp_id=str(invoice["id"]),
        number=invoice.get("number") or "",
        created=created,
        raw={"model": "account.invoice", "state": invoice["state"]},
    )


def _move_result(move: dict, *, created: bool) -> PostResult:
    return PostResult(
        erp_id=str(move["id"]),
        number=move.get("number") or "",
        created=created,
        raw={"model": "account.move", "state": move["state"]},
    )
