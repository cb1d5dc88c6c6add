"""The Tryton adapter's look-ups: records by reference or description, the chart, ids of
taxes, currencies, journals, payment methods, the company, periods and parties (cached per
adapter), and the JSON-RPC helpers they share. Mixed into TrytonAdapter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from erp_sync.adapters.base import (
    ChartAccount,
    ErpDocument,
    NonRetryableError,
    ParentMissingError,
    PeriodClosedError,
)
from erp_sync.adapters.jsonrpc import TrytonWarning

# Invoice states `post` may still move to posted (an earlier crash left it there).
POSTABLE_STATES = ("draft", "validated")
# The flags of an account type, in the order that names an account's kind.
ACCOUNT_KINDS = ("receivable", "payable", "revenue", "expense")


class TrytonLookups:
    """Look-ups for TrytonAdapter (uses its `rpc`, `session`, caches and settings)."""

    # -- lookups -------------------------------------------------------------------------
    def _invoice_fields(self) -> list[str]:
        return [
            "number",
            "state",
            "reference",
            "total_amount",
            "tax_amount",
            "party",
            "account",
            "lines_to_pay",
            "payment_lines",
            "currency.code",
        ]

    def _invoice_by_reference(self, external_id: str) -> dict | None:
        """The customer or supplier invoice (a settlement's vendor bill) whose reference is
        `external_id`: Concord's external ids are unique across document kinds."""
        rows = self._search_read(
            "account.invoice",
            [("reference", "=", external_id), ("type", "in", ["out", "in"])],
            self._invoice_fields(),
            limit=1,
            order=[("id", "ASC")],
        )
        return flatten(rows[0]) if rows else None

    def _invoice_by_id(self, invoice_id: int) -> dict:
        (row,) = self._search_read(
            "account.invoice", [("id", "=", invoice_id)], self._invoice_fields()
        )
        return flatten(row)

    def _parent_invoice(self, document: ErpDocument) -> dict:
        if not document.parent_external_id:
            raise NonRetryableError(f"{document.external_id}: a {document.kind} needs a parent")
        parent = self._invoice_by_reference(document.parent_external_id)
        if not parent or parent["state"] in POSTABLE_STATES:
            raise ParentMissingError(
                f"invoice {document.parent_external_id} is not posted in Tryton yet"
            )
        return parent

    def _move_by_description(self, external_id: str) -> dict | None:
        rows = self._search_read(
            "account.move",
            [("description", "=", external_id)],
            ["number", "state"],
            limit=1,
            order=[("id", "ASC")],
        )
        return rows[0] if rows else None

    def _load_accounts(self, codes: set[str]) -> None:
        wanted = sorted(code for code in codes if code not in self._accounts)
        if not wanted:
            return
        for row in self._search_read(
            "account.account",
            [("code", "in", wanted), ("closed", "!=", True), ("type", "!=", None)],
            ["code", "party_required"],
        ):
            self._accounts[row["code"]] = row

    def chart_of_accounts(self) -> list[ChartAccount]:
        """Every open account that takes postings (it has a type), ordered by code."""
        rows = self._search_read(
            "account.account",
            [("closed", "!=", True), ("type", "!=", None), ("code", "!=", None)],
            ["code", "name", *(f"type.{kind}" for kind in ACCOUNT_KINDS)],
            order=[("code", "ASC")],
        )
        chart = []
        for row in rows:
            flags = row.get("type.") or {}
            kind = next((kind for kind in ACCOUNT_KINDS if flags.get(kind)), "other")
            chart.append(ChartAccount(row["code"], row.get("name") or "", kind))
        return chart

    def _account(self, code: str) -> dict:
        self._load_accounts({code})
        if code not in self._accounts:
            raise NonRetryableError(f"account {code!r} does not exist in Tryton (or is closed)")
        return self._accounts[code]

    def _account_id(self, code: str) -> int:
        return self._account(code)["id"]

    def _cached(self, kind: str, key: str, lookup: Callable[[], list[dict]], what: str) -> int:
        if (kind, key) not in self._cache:
            rows = lookup()
            if not rows:
                raise NonRetryableError(f"{what} {key!r} does not exist in Tryton")
            self._cache[kind, key] = rows[0]["id"]
        return self._cache[kind, key]

    def _tax_id(self, name: str) -> int:
        return self._cached(
            "tax",
            name,
            lambda: self._search_read("account.tax", [("name", "=", name)], ["id"], limit=1),
            "tax",
        )

    def _currency_id(self, code: str) -> int:
        return self._cached(
            "currency",
            code,
            lambda: self._search_read("currency.currency", [("code", "=", code)], ["id"], limit=1),
            "currency",
        )

    def _journal_id(self, journal_type: str) -> int:
        return self._cached(
            "journal",
            journal_type,
            lambda: self._search_read(
                "account.journal", [("type", "=", journal_type)], ["id"], limit=1
            ),
            "journal of type",
        )

    def _payment_method_id(self) -> int:
        name = self.payment_method_name
        return self._cached(
            "payment_method",
            name,
            lambda: self._search_read(
                "account.invoice.payment.method", [("name", "=", name)], ["id"], limit=1
            ),
            "payment method",
        )

    def _company_id(self) -> int:
        if self.company_id is None:
            company = self.rpc.context.get("company")
            if not company:
                raise NonRetryableError("the Tryton user has no current company")
            self.company_id = company
        return self.company_id

    def _period_id(self, date: dt.date) -> int:
        """The open standard period holding `date` (account.period.find is not over RPC)."""
        rows = self._search_read(
            "account.period",
            [
                ("company", "=", self._company_id()),
                ("start_date", "<=", date),
                ("end_date", ">=", date),
                ("type", "=", "standard"),
            ],
            ["state", "name"],
            limit=1,
        )
        if not rows:
            raise PeriodClosedError(f"Tryton has no period for {date.isoformat()}")
        if rows[0]["state"] != "open":
            raise PeriodClosedError(
                f"Tryton period {rows[0]['name']} holding {date.isoformat()} is {rows[0]['state']}"
            )
        return rows[0]["id"]

    def period_open(self, day: dt.date) -> bool:
        """Whether the standard period holding `day` is open in Tryton (False: none holds it)."""
        try:
            self._period_id(day)
        except PeriodClosedError:
            return False
        return True

    def next_open_period(self, day: dt.date) -> dt.date | None:
        """The first day of the first open standard period starting after `day`'s month
        (None when Tryton has no such period yet)."""
        after = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        rows = self._search_read(
            "account.period",
            [
                ("company", "=", self._company_id()),
                ("start_date", ">=", after),
                ("type", "=", "standard"),
                ("state", "=", "open"),
            ],
            ["start_date"],
            limit=1,
            order=[("start_date", "ASC")],
        )
        if not rows:
            return None
        start = rows[0]["start_date"]
        return start if isinstance(start, dt.date) else dt.date.fromisoformat(str(start)[:10])

    def _party(self, document: ErpDocument) -> tuple[int, int]:
        """(party id, invoice address id): found by Concord's code, else created."""
        code = document.party.code
        rows = self._search_read(
            "party.party", [("code", "=", code)], ["addresses"], limit=1, order=[("id", "ASC")]
        )
        if rows and rows[0]["addresses"]:
            return rows[0]["id"], rows[0]["addresses"][0]
        if rows:
            (address_id,) = self._model("party.address", "create", [{"party": rows[0]["id"]}])
            return rows[0]["id"], address_id
        values: dict[str, Any] = {
            "name": document.party.name or code,
            "code": code,
            "addresses": [("create", [{}])],
        }
        if document.party.tax_id:
            values["identifiers"] = [("create", [{"code": document.party.tax_id}])]
        (party_id,) = self._model("party.party", "create", [values])
        (row,) = self._search_read("party.party", [("id", "=", party_id)], ["addresses"])
        return party_id, row["addresses"][0]

    # -- plumbing ------------------------------------------------------------------------
    def _context(self) -> dict:
        return {"company": self.company_id} if self.company_id else {}

    def _model(self, model: str, method: str, *args: Any) -> Any:
        return self.rpc.model(model, method, *args, context=self._context())

    def _search_read(
        self,
        model: str,
        domain: list,
        fields: list[str],
        *,
        limit: int | None = None,
        order: list | None = None,
    ) -> list[dict]:
        return self.rpc.search_read(
            model, domain, fields, limit=limit, order=order, context=self._context()
        )

    def _acknowledging(self, call: Callable[[], Any]) -> Any:
        """Run `call`; on a Tryton warning acknowledge it for this user and retry once."""
        try:
            return call()
        except TrytonWarning as warning:
            self._model(
                "res.user.warning",
                "create",
                [{"user": self.rpc.user_id, "name": warning.key, "always": False}],
            )
            return call()


def flatten(row: dict) -> dict:
    """search_read returns `currency.code` as {'currency.': {'code': ...}}; flatten it."""
    flat = dict(row)
    currency = row.get("currency.") or {}
    flat["currency.code"] = currency.get("code", "")
    return flat
