"""How partners applies the `partner.upserted` event billing routes to it.

Registered with billing's handler registry from `PartnersConfig.ready`; billing never imports
this module (partners sits above billing).
"""

from billing.choices import QuarantineReason
from billing.errors import QuarantineError
from billing.handlers.common import entity_get, history_reason
from billing.models import FinanceEvent
from billing.schema import Envelope
from config.history import stamp
from partners.models import Partner


def partner_upserted(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Create or update the partner; a parent that does not exist → unknown_partner.

    The envelope's entity must be known (a misrouted event is quarantined like any other);
    it becomes the partner's paying entity unless one is set already.
    """
    data = envelope.data
    scope = {"entity": envelope.entity, "partner": data["partner_id"]}
    entity = entity_get(envelope.entity, scope=scope)
    parent = None
    if data["parent_partner_id"] is not None:
        parent = Partner.objects.filter(partner_id=data["parent_partner_id"]).first()
        if parent is None or parent.partner_id == data["partner_id"]:
            raise QuarantineError(
                QuarantineReason.UNKNOWN_PARTNER,
                f"parent partner {data['parent_partner_id']!r} does not exist",
                scope,
            )
    partner = Partner.objects.select_for_update().filter(partner_id=data["partner_id"]).first()
    if partner is None:
        partner = Partner(partner_id=data["partner_id"])
    partner.name = data["name"]
    partner.kind = data["kind"]
    partner.parent = parent
    partner.country = data["country"]
    partner.currency = data["currency"]
    if partner.paying_entity_id is None:
        partner.paying_entity = entity
    partner.event = event
    stamp(partner, actor=actor, reason=history_reason(event))
    partner.save()
    return {"partner": partner.partner_id}


def settlement_approved(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Concord's own `settlement.approved`: the settlement exists; nothing else to apply.

    Emitted by `partners.services.emit.settlement_approved_emit` inside the approval's
    transaction; erp_sync reacts to it (vendor bill) like to any applied event.
    """
    from partners.models import Settlement

    settlement_id = envelope.data["settlement_id"]
    if not Settlement.objects.filter(pk=settlement_id.removeprefix("stl_")).exists():
        raise QuarantineError(
            QuarantineReason.CONFLICT,
            f"no settlement {settlement_id!r}",
            {"entity": envelope.entity},
        )
    return {"settlement": settlement_id}
