"""`settlement.approved` into the event log, through billing's ingest service.

billing's schema (billing/schema.py) does not declare `settlement.approved` yet, so
`event_ingest` would refuse it as unknown_type: this module builds the envelope itself and
stores it with `event_ingest_valid` (the public store-and-apply step after validation), in
the approval's transaction. partners registers the type's handler. Source "concord"; the
event id is derived from the settlement, so it can be stored once only.
"""

from __future__ import annotations

from django.utils import timezone

from billing.models import FinanceEvent
from billing.schema import Envelope, canonical_digest
from billing.services.events import event_ingest_valid
from config.correlation import get_correlation_id
from config.money import quantize
from partners.errors import SettlementError
from partners.models import Settlement

SOURCE = "concord"
TYPE = "settlement.approved"


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


def settlement_approved_emit(*, settlement: Settlement, actor) -> FinanceEvent:
    """Store and apply the settlement's `settlement.approved` event; call inside the
    approval's transaction. Raises SettlementError when the partner has no paying entity."""
    entity = settlement.partner.paying_entity
    if entity is None:
        raise SettlementError(
            f"partner {settlement.partner.partner_id} has no paying legal entity",
            code="no_paying_entity",
            field="partner.paying_entity",
        )
    now = timezone.now()
    data = settlement_approved_data(settlement)
    event_id = f"{data['settlement_id']}-approved"
    correlation = get_correlation_id() or ""
    body = {
        "specversion": "1.0",
        "id": event_id,
        "source": SOURCE,
        "type": TYPE,
        "time": now.isoformat().replace("+00:00", "Z"),
        "entity": entity.code,
        "correlationid": correlation,
        "data": data,
    }
    envelope = Envelope(
        specversion="1.0",
        id=event_id,
        source=SOURCE,
        type=TYPE,
        time=now,
        entity=entity.code,
        correlationid=correlation,
        data=data,
    )
    outcome = event_ingest_valid(
        envelope=envelope, body=body, digest=canonical_digest(body), actor=actor
    )
    return outcome.event
