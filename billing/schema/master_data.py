"""Master data events: customers and channel partners (created or updated by id)."""

from __future__ import annotations

from typing import NotRequired

from typing_extensions import TypedDict

from billing.schema.declaration import EventType, data_config
from billing.schema.fields import Country, Currency, Id, Name, Tag, choice

PARTNER_KINDS = ("referral", "reseller", "distributor")
PartnerKind = choice(*PARTNER_KINDS, description="how the partner sells")


@data_config
class CustomerUpsertedData(TypedDict):
    """A customer as the billing platform knows it."""

    customer_id: Id
    name: Name
    country: Country
    currency: Currency
    """The customer's billing currency."""
    region: NotRequired[Tag | None]
    tax_id: NotRequired[Tag | None]


@data_config
class PartnerUpsertedData(TypedDict):
    """A channel partner that earns revenue share on the customers it brings."""

    partner_id: Id
    name: Name
    kind: PartnerKind
    parent_partner_id: NotRequired[Id | None]
    """The partner above this one (a reseller under a distributor)."""
    country: Country
    currency: Currency
    """The currency the partner is settled in."""


EVENT_TYPES = (
    EventType(
        name="customer.upserted",
        description="Creates or updates a customer (by customer_id).",
        data=CustomerUpsertedData,
        example={
            "customer_id": "cus_1",
            "name": "Acme Corp",
            "country": "US",
            "currency": "USD",
            "region": "west",
            "tax_id": "12-3456789",
        },
    ),
    EventType(
        name="partner.upserted",
        description="Creates or updates a channel partner (by partner_id).",
        data=PartnerUpsertedData,
        example={
            "partner_id": "par_1",
            "name": "Channel Co",
            "kind": "reseller",
            "country": "DE",
            "currency": "EUR",
        },
    ),
)
