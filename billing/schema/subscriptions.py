"""Subscription events (created, amended, renewed, cancelled) and metered usage."""

from __future__ import annotations

from typing import NotRequired

from typing_extensions import TypedDict

from billing.schema.amounts import RateNonNegative, RatePositive
from billing.schema.declaration import EventType, data_config
from billing.schema.fields import Code, Currency, Date, Id, Reason, Short, choice
from billing.schema.rules import ordered

INTERVALS = ("month", "year")
Interval = choice(*INTERVALS, description="billing interval")


@data_config
class SubscriptionCreatedData(TypedDict):
    """A new subscription of a customer to a plan, optionally sold through a partner."""

    subscription_id: Id
    customer_id: Id
    plan_code: Code
    product_family: Code
    quantity: RatePositive
    unit_price: RateNonNegative
    currency: Currency
    interval: Interval
    start_date: Date
    partner_id: NotRequired[Id | None]
    """The partner that sold the subscription, if any."""
    partner_role: NotRequired[Short | None]


@data_config
class SubscriptionAmendedData(TypedDict):
    """A change of plan, quantity or price from a date; absent fields stay as they are."""

    subscription_id: Id
    effective_date: Date
    plan_code: NotRequired[Code | None]
    quantity: NotRequired[RatePositive | None]
    unit_price: NotRequired[RateNonNegative | None]


@data_config
class SubscriptionRenewedData(TypedDict):
    """A subscription renewed for another term."""

    subscription_id: Id
    term_end: Date


@data_config
class SubscriptionCancelledData(TypedDict):
    """A subscription ending on a date."""

    subscription_id: Id
    effective_date: Date
    reason: NotRequired[Reason | None]


@data_config
class UsageRecordedData(TypedDict):
    """Metered usage of a subscription over a period (period_end on or after period_start)."""

    usage_id: Id
    subscription_id: Id
    meter: Code
    quantity: RateNonNegative
    unit_price: RateNonNegative
    period_start: Date
    period_end: Date


EVENT_TYPES = (
    EventType(
        name="subscription.created",
        description="Starts a subscription of a customer to a plan.",
        data=SubscriptionCreatedData,
        example={
            "subscription_id": "sub_1",
            "customer_id": "cus_1",
            "plan_code": "pro-annual",
            "product_family": "saas",
            "quantity": "10",
            "unit_price": "99.50",
            "currency": "USD",
            "interval": "year",
            "start_date": "2026-05-01",
        },
    ),
    EventType(
        name="subscription.amended",
        description="Changes a subscription's plan, quantity or unit price from a date.",
        data=SubscriptionAmendedData,
        example={
            "subscription_id": "sub_1",
            "effective_date": "2026-06-01",
            "plan_code": "enterprise",
            "quantity": "12",
            "unit_price": "89.00",
        },
    ),
    EventType(
        name="subscription.renewed",
        description="Renews a subscription until term_end.",
        data=SubscriptionRenewedData,
        example={"subscription_id": "sub_1", "term_end": "2027-04-30"},
    ),
    EventType(
        name="subscription.cancelled",
        description="Cancels a subscription from effective_date.",
        data=SubscriptionCancelledData,
        example={"subscription_id": "sub_1", "effective_date": "2026-09-30", "reason": "budget"},
    ),
    EventType(
        name="usage.recorded",
        description="Records metered usage of a subscription over a period.",
        data=UsageRecordedData,
        example={
            "usage_id": "use_1",
            "subscription_id": "sub_1",
            "meter": "api_calls",
            "quantity": "1200.5",
            "unit_price": "0.0025",
            "period_start": "2026-05-01",
            "period_end": "2026-05-31",
        },
        rules=(ordered("period_start", "period_end", "end_before_start"),),
    ),
)
