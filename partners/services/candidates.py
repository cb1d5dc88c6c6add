"""What the accrual engine reads: one `Candidate` per (source line, rule) that may earn.

A candidate is a line of an invoice (invoiced basis) or a line of an invoice a payment was
allocated to (collected basis), paired with a rule of an active agreement that covers it:
the partner is attributed the invoice's subscription (or, failing that, its customer) on the
issue date, or is the parent of that partner and its agreement says `override_on_children`;
the agreement is active on the issue date, in the invoice's currency, with the settlement
period kind of the window. Cap rules are never candidates (they act on the period).

Two producers give the same list: `partners.services.bulk` (a few SQL statements per window)
and `partners.services.reference` (plain ORM and Python); tests/partners/test_engine_paths.py
holds them equal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Candidate:
    basis: str  # "invoiced" | "collected"
    partner_pk: int
    agreement_pk: int
    rule_pk: int
    rule_kind: str
    invoice_pk: int
    invoice_id: str
    issue_date: dt.date
    currency: str
    invoice_total: Decimal
    customer_pk: int
    country: str
    line_pk: int
    line_id: str
    line_number: int  # 1-based position on the invoice, for people
    product_family: str
    quantity: Decimal
    line_amount: Decimal
    # Collected basis only: the allocation of a payment to the invoice.
    allocation_pk: int | None = None
    allocation_amount: Decimal | None = None
    payment_pk: int | None = None
    payment_id: str = ""
    received_on: dt.date | None = None

    @property
    def on(self) -> dt.date:
        """The day the source earns: the issue date, or the day the cash was received."""
        return self.received_on or self.issue_date

    @property
    def order(self) -> tuple:
        """Deterministic order within a period (tiers accumulate volume in this order)."""
        return (self.on, self.allocation_pk or 0, self.invoice_pk, self.line_pk)

    @property
    def source_key(self) -> str:
        if self.allocation_pk is None:
            return f"invoice_line:{self.line_pk}"
        return f"payment:{self.allocation_pk}>invoice_line:{self.line_pk}"


def dedupe(candidates) -> list[Candidate]:
    """One candidate per (rule, source), in source order (an earner attributed twice, e.g.
    directly and through a child, earns once per rule)."""
    seen: set[tuple[int, str]] = set()
    unique = []
    for candidate in sorted(candidates, key=lambda c: (c.order, c.rule_pk)):
        key = (candidate.rule_pk, candidate.source_key)
        if key not in seen:
            seen.add(key)
            unique.append(candidate)
    return unique
