"""Handlers of master-data events billing owns: customer.upserted.

(partner.upserted is applied by the partners app, which registers its own handler.)
"""

from billing.awaiting import release_on_commit
from billing.choices import QuarantineReason
from billing.errors import QuarantineError
from billing.handlers import register
from billing.handlers.common import entity_get, history_reason
from billing.models import AwaitedKind, AwaitedRecord, Customer, FinanceEvent
from billing.schema import Envelope
from config.history import stamp


@register("customer.upserted")
def customer_upserted(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Create the customer, or update its name, country, currency, region and tax id.

    The customer belongs to the envelope's entity; unknown entity → unknown_entity, a customer
    kept under another entity → conflict (moving customers between books is not an upsert).
    """
    data = envelope.data
    scope = {"entity": envelope.entity, "customer": data["customer_id"]}
    entity = entity_get(envelope.entity, scope=scope)
    customer = Customer.objects.select_for_update().filter(customer_id=data["customer_id"]).first()
    created = customer is None
    if created:
        customer = Customer(customer_id=data["customer_id"], entity=entity, event=event)
    elif customer.entity_id != entity.pk:
        raise QuarantineError(
            QuarantineReason.CONFLICT,
            f"customer {customer.customer_id!r} belongs to entity {customer.entity.code}, "
            f"not {entity.code}",
            scope,
        )
    customer.name = data["name"]
    customer.country = data["country"]
    customer.currency = data["currency"]
    customer.region = data["region"] or ""
    customer.tax_id = data["tax_id"] or ""
    customer.event = event
    stamp(customer, actor=actor, reason=history_reason(event))
    customer.save()
    # Only a new customer can be awaited: one query, on creation only.
    key = (AwaitedKind.CUSTOMER, customer.customer_id)
    if created and AwaitedRecord.objects.filter(kind=key[0], record_id=key[1]).exists():
        release_on_commit([key])
    return {"customer": customer.customer_id}
