"""Partner settlements: Concord's own `settlement.approved` and the `payout.settled` that pays
it (DESIGN.md's canonical table).

`settlement.approved` is emitted by partners at approval (source ``concord``, the only source
accepted for it: `EventType.source`); its lines are the statement lines and ``total`` is their
sum (a clawback line is negative, so the total may be too). `payout.settled` says the partner
was paid: ``amount`` is the settlement's total, ``reference`` names the bank payment.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from typing_extensions import TypedDict

from billing.schema.amounts import Money
from billing.schema.declaration import EventType, ObjectList, data_config
from billing.schema.errors import Kind
from billing.schema.fields import MAX_LINES, Currency, Date, DateTime, Id, Reason, choice
from billing.schema.rules import equals_lines, ordered, sum_amounts

CONCORD_SOURCE = "concord"


@data_config
class SettlementLineData(TypedDict):
    """One statement line of an approved settlement."""

    line_id: Id
    """Unique within the settlement."""
    kind: choice("accrual", "clawback", "true_up", description="what produced the line")
    source_ref: Reason
    """The invoice line, credit note, payment, refund or write-off the line comes from."""
    amount: Money


SettlementLines = Annotated[
    list[SettlementLineData],
    # A period without accruals is settled (and approved) too: no lines, total 0.
    Field(min_length=0, max_length=MAX_LINES),
    Kind(expected="a list of line objects", max_length=MAX_LINES),
    ObjectList(unique="line_id"),
]


@data_config
class SettlementApprovedData(TypedDict):
    """A partner settlement approved (four-eyes): total == sum of line amounts, period_end on
    or after period_start."""

    settlement_id: Id
    partner_id: Id
    period_start: Date
    period_end: Date
    currency: Currency
    total: Money
    lines: SettlementLines


@data_config
class PayoutSettledData(TypedDict):
    """The payout of an approved settlement went out to the partner."""

    payout_id: Id
    settlement_id: Id
    partner_id: Id
    amount: Money
    """The settlement's total: zero or negative when clawbacks outweigh the period's
    accruals (nothing paid out; the partner owes the difference)."""
    currency: Currency
    paid_at: DateTime
    reference: Id
    """The bank payment's reference."""


EVENT_TYPES = (
    EventType(
        name="settlement.approved",
        description=(
            "A partner settlement approved by a second person; emitted by Concord itself "
            "(source concord) and posted as a vendor bill to the partner."
        ),
        data=SettlementApprovedData,
        example={
            "settlement_id": "stl_1",
            "partner_id": "ptn_1",
            "period_start": "2026-05-01",
            "period_end": "2026-05-31",
            "currency": "USD",
            "total": "230.00",
            "lines": [
                {
                    "line_id": "1",
                    "kind": "accrual",
                    "source_ref": "inv_1/L1",
                    "amount": "250.00",
                },
                {
                    "line_id": "2",
                    "kind": "clawback",
                    "source_ref": "cn_1/L1",
                    "amount": "-20.00",
                },
            ],
        },
        rules=(
            ordered("period_start", "period_end", "end_before_start"),
            equals_lines("total", "total_mismatch", sum_amounts, "the sum of line amounts"),
        ),
        source=CONCORD_SOURCE,
    ),
    EventType(
        name="payout.settled",
        description="The payout of an approved partner settlement was made (marks it paid).",
        data=PayoutSettledData,
        example={
            "payout_id": "po_1",
            "settlement_id": "stl_1",
            "partner_id": "ptn_1",
            "amount": "230.00",
            "currency": "USD",
            "paid_at": "2026-06-05T09:00:00Z",
            "reference": "BANK-2026-06-05-0042",
        },
    ),
)
