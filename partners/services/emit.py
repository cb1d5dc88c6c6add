"""`settlement.approved` and `payout.settled` into the event log, through billing's ingest.

Both are declared in billing's schema (`billing.schema.settlements`) and go through
`event_ingest` like any event: validated (total == sum of lines, source "concord"), stored,
applied by the handler partners registers, in the caller's transaction. The event ids are
derived from the settlement (and the payout reference), so each is stored once only.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from billing.models import FinanceEvent
from billing.schema import EventSchemaError
from billing.services.events import STATUS_CONFLICT, event_ingest
from config.correlation import get_correlation_id
from config.money import quantize
from partners.errors import SettlementError
from partners.models import Settlement

SOURCE = "concord"
TYPE = "settlement.approved"
PAYOUT_TYPE = "payout.settled"


def settlement_event_id(settlement: Settlement) -> str:
    return f"stl_{settlement.pk}"


def settlement_approved_data(settlement: Settlement) -> dict:
    """The event's data, as DESIGN.md gives it (amounts as decimal strings)."""
    cur = settlement.currency
    return {
        "settlement_id": settlement_event_id(settlement),
        "partner_id": settlement.partner.partner_id,
        "period_start": settlement.period_start.isoformat(),
        "period_end": settlement.period_end.isoformat(),
        "currency": cur,
        "total": str(quantize(settlement.total_amount, cur)),
        "lines": [
            {
                "line_id": str(line.pk),
                "kind": line.kind,
                "source_ref": line.source_ref,
                "amount": str(quantize(line.amount, cur)),
            }
            for line in settlement.lines.order_by("id")
        ],
    }


def _ingest(body: dict, *, actor) -> FinanceEvent:
    """Validate (billing's schema) and store-and-apply `body` through billing's ingest, in the
    caller's transaction. Raises SettlementError when it is refused or conflicts."""
    try:
        outcome = event_ingest(body=body, actor=actor)
    except EventSchemaError as error:
        raise SettlementError(
            f"{body['type']} {body['id']} is not a valid event: "
            + "; ".join(e.message for e in error.errors[:3]),
            code="invalid_event",
        ) from error
    if outcome.status == STATUS_CONFLICT:
        raise SettlementError(
            f"{body['type']} {body['id']} was stored before with a different body",
            code="conflicting_event",
        )
    return outcome.event


def _envelope(*, event_id: str, event_type: str, entity: str, data: dict) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": event_type,
        "time": timezone.now().isoformat().replace("+00:00", "Z"),
        "entity": entity,
        "correlationid": get_correlation_id() or None,
        "data": data,
    }


def _paying_entity(settlement: Settlement):
    entity = settlement.partner.paying_entity
    if entity is None:
        raise SettlementError(
            f"partner {settlement.partner.partner_id} has no paying legal entity",
            code="no_paying_entity",
            field="partner.paying_entity",
        )
    return entity


def settlement_approved_emit(*, settlement: Settlement, actor) -> FinanceEvent:
    """Validate, store and apply the settlement's `settlement.approved` event in the paying
    entity; call inside the approval's transaction. Raises SettlementError when the partner
    has no paying entity or the event is refused."""
    entity = _paying_entity(settlement)
    data = settlement_approved_data(settlement)
    body = _envelope(
        event_id=f"{data['settlement_id']}-approved",
        event_type=TYPE,
        entity=entity.code,
        data=data,
    )
    return _ingest(body, actor=actor)


def payout_settled_emit(
    *, settlement: Settlement, reference: str, paid_at: dt.datetime, actor
) -> FinanceEvent:
    """Validate, store and apply a `payout.settled` for the settlement (the console's "mark
    paid"): its handler marks the settlement paid. One payout per settlement and reference
    (the event id is derived from both, so a double click stores it once)."""
    entity = _paying_entity(settlement)
    settlement_id = settlement_event_id(settlement)
    payout_id = f"{settlement_id}-{reference}"[:200]
    data = {
        "payout_id": payout_id,
        "settlement_id": settlement_id,
        "partner_id": settlement.partner.partner_id,
        "amount": str(quantize(settlement.total_amount, settlement.currency)),
        "currency": settlement.currency,
        "paid_at": paid_at.isoformat().replace("+00:00", "Z"),
        "reference": reference,
    }
    body = _envelope(
        event_id=f"payout-{payout_id}"[:200],
        event_type=PAYOUT_TYPE,
        entity=entity.code,
        data=data,
    )
    return _ingest(body, actor=actor)
