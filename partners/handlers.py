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


def _settlement_of(envelope: Envelope):
    from partners.models import Settlement

    settlement_id = envelope.data["settlement_id"]
    pk = settlement_id.removeprefix("stl_")
    settlement = (
        Settlement.objects.select_related("partner").filter(pk=pk).first() if pk.isdigit() else None
    )
    if settlement is None:
        raise QuarantineError(
            QuarantineReason.CONFLICT,
            f"no settlement {settlement_id!r}",
            {"entity": envelope.entity},
        )
    return settlement


def payout_settled(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """The payout of a settlement went out: approved | posted → paid (a repeat changes
    nothing). A payout for another partner, in another currency or of another amount than
    the settlement's total, or for a settlement not approved yet, is quarantined."""
    from partners.errors import SettlementError
    from partners.services.settlements import settlement_payout_apply

    data = envelope.data
    settlement = _settlement_of(envelope)
    scope = {"entity": envelope.entity, "partner": data["partner_id"]}
    if settlement.partner.partner_id != data["partner_id"]:
        raise QuarantineError(
            QuarantineReason.CONFLICT,
            f"settlement {data['settlement_id']} is partner "
            f"{settlement.partner.partner_id}'s, not {data['partner_id']}'s",
            scope,
        )
    if settlement.currency != data["currency"]:
        raise QuarantineError(
            QuarantineReason.CURRENCY_MISMATCH,
            f"settlement {data['settlement_id']} is in {settlement.currency}, "
            f"the payout in {data['currency']}",
            scope,
        )
    if settlement.total_amount != data["amount"]:
        raise QuarantineError(
            QuarantineReason.CONFLICT,
            f"payout {data['amount']} does not equal settlement {data['settlement_id']}'s "
            f"total {settlement.total_amount}",
            scope,
        )
    try:
        settlement_payout_apply(
            settlement_id=settlement.pk, actor=actor, reference=data["reference"]
        )
    except SettlementError as error:
        raise QuarantineError(QuarantineReason.CONFLICT, error.message, scope) from error
    return {"settlement": data["settlement_id"]}
