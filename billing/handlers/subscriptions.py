"""Handlers of subscription events and usage.

The usage checks and the record it builds are plain functions so that the batch fast path
(`billing.services.batch`) applies usage exactly as `usage_recorded` does, without a query
per event.
"""

from decimal import Context

from django.db.models import Exists

from billing.awaiting import awaited, release_on_commit
from billing.choices import QuarantineReason, SubscriptionState
from billing.errors import QuarantineError
from billing.handlers import register
from billing.handlers.common import (
    check_currency,
    duplicate_record,
    entity_get,
    entity_of,
    history_reason,
    unknown,
)
from billing.models import (
    AwaitedKind,
    Customer,
    FinanceEvent,
    LegalEntity,
    Plan,
    Subscription,
    UsageRecord,
)
from billing.schema import Envelope
from config.history import stamp
from config.instances import build
from config.money import quantize

_EXACT = Context(prec=80)


def _scope(envelope: Envelope, subscription: Subscription | None = None, **extra) -> dict:
    scope = {"entity": envelope.entity, **extra}
    if subscription is not None:
        scope["customer"] = subscription.customer.customer_id
        scope["partner"] = subscription.partner_code
    return scope


def _subscription_locked(envelope: Envelope) -> Subscription:
    subscription_id = envelope.data["subscription_id"]
    subscription = (
        Subscription.objects.select_for_update(of=("self",))
        .select_related("customer")
        .filter(subscription_id=subscription_id)
        .first()
    )
    if subscription is None:
        raise unknown(
            QuarantineReason.UNKNOWN_SUBSCRIPTION,
            "subscription",
            subscription_id,
            scope=_scope(envelope),
        )
    return subscription


def _require_live(subscription: Subscription, envelope: Envelope) -> None:
    if subscription.state not in Subscription._LIVE:
        raise QuarantineError(
            QuarantineReason.SUBSCRIPTION_CANCELLED,
            f"subscription {subscription.subscription_id!r} is {subscription.state}",
            _scope(envelope, subscription),
        )


@register("subscription.created")
def subscription_created(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Create the subscription (and its plan on first use) for a known customer."""
    data = envelope.data
    scope = {"entity": envelope.entity, "customer": data["customer_id"]}
    scope["partner"] = data["partner_id"] or ""
    entity_get(envelope.entity, scope=scope)
    customer = (
        Customer.objects.annotate(
            subscription_awaited=awaited(AwaitedKind.SUBSCRIPTION, data["subscription_id"])
        )
        .filter(customer_id=data["customer_id"])
        .first()
    )
    if customer is None:
        raise unknown(
            QuarantineReason.UNKNOWN_CUSTOMER, "customer", data["customer_id"], scope=scope
        )
    check_currency(data["currency"], customer.currency, what="the customer", scope=scope)
    if Subscription.objects.filter(subscription_id=data["subscription_id"]).exists():
        raise duplicate_record("subscription", data["subscription_id"], scope=scope)
    reason = history_reason(event)
    plan = Plan.objects.filter(plan_code=data["plan_code"]).first()
    if plan is None:
        plan = Plan(plan_code=data["plan_code"], product_family=data["product_family"])
        stamp(plan, actor=actor, reason=reason)
        plan.save()
    subscription = Subscription(
        subscription_id=data["subscription_id"],
        customer=customer,
        plan=plan,
        quantity=data["quantity"],
        unit_price=data["unit_price"],
        currency=data["currency"],
        interval=data["interval"],
        start_date=data["start_date"],
        partner_code=data["partner_id"] or "",
        partner_role=data["partner_role"] or "",
        event=event,
    )
    stamp(subscription, actor=actor, reason=reason)
    subscription.save()
    if customer.subscription_awaited:
        release_on_commit([(AwaitedKind.SUBSCRIPTION, subscription.subscription_id)])
    return {"subscription": subscription.subscription_id, "plan": plan.plan_code}


@register("subscription.amended")
def subscription_amended(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Change plan, quantity or unit price of a live subscription."""
    data = envelope.data
    entity_get(envelope.entity, scope=_scope(envelope))
    subscription = _subscription_locked(envelope)
    _require_live(subscription, envelope)
    plan = None
    if data["plan_code"] is not None:
        plan = Plan.objects.filter(plan_code=data["plan_code"]).first()
        if plan is None:
            raise unknown(
                QuarantineReason.UNKNOWN_PLAN,
                "plan",
                data["plan_code"],
                scope=_scope(envelope, subscription),
            )
    subscription.amend(plan=plan, quantity=data["quantity"], unit_price=data["unit_price"])
    stamp(subscription, actor=actor, reason=history_reason(event))
    subscription.save()
    return {"subscription": subscription.subscription_id}


@register("subscription.renewed")
def subscription_renewed(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Extend a live subscription's term."""
    entity_get(envelope.entity, scope=_scope(envelope))
    subscription = _subscription_locked(envelope)
    _require_live(subscription, envelope)
    subscription.renew(term_end=envelope.data["term_end"])
    stamp(subscription, actor=actor, reason=history_reason(event))
    subscription.save()
    return {"subscription": subscription.subscription_id}


@register("subscription.cancelled")
def subscription_cancelled(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """End a live subscription; cancelling one already ended is quarantined."""
    data = envelope.data
    entity_get(envelope.entity, scope=_scope(envelope))
    subscription = _subscription_locked(envelope)
    if subscription.state == SubscriptionState.CANCELLED:
        raise QuarantineError(
            QuarantineReason.CONFLICT,
            f"subscription {subscription.subscription_id!r} is already cancelled "
            f"(on {subscription.ended_on})",
            _scope(envelope, subscription),
        )
    _require_live(subscription, envelope)
    subscription.cancel(effective_date=data["effective_date"], reason=data["reason"] or "")
    stamp(subscription, actor=actor, reason=history_reason(event))
    subscription.save()
    return {"subscription": subscription.subscription_id}


def usage_check(
    envelope: Envelope,
    *,
    entity: LegalEntity | None,
    subscription: Subscription | None,
    usage_exists: bool,
) -> None:
    """Raise QuarantineError when the usage cannot be applied; pure (no queries).

    `subscription` must have its customer loaded.
    """
    data = envelope.data
    if entity is None:
        raise QuarantineError(
            QuarantineReason.UNKNOWN_ENTITY,
            f"no legal entity with code {envelope.entity!r}",
            _scope(envelope),
        )
    if subscription is None:
        raise unknown(
            QuarantineReason.UNKNOWN_SUBSCRIPTION,
            "subscription",
            data["subscription_id"],
            scope=_scope(envelope),
        )
    _require_live(subscription, envelope)
    if usage_exists:
        raise duplicate_record("usage", data["usage_id"], scope=_scope(envelope, subscription))


def usage_build(event: FinanceEvent, envelope: Envelope, subscription: Subscription) -> UsageRecord:
    """The usage record of an applicable usage.recorded event (not saved)."""
    data = envelope.data
    amount = _EXACT.multiply(data["quantity"], data["unit_price"])
    return build(
        UsageRecord,
        usage_id=data["usage_id"],
        subscription_id=subscription.pk,
        meter=data["meter"],
        quantity=data["quantity"],
        unit_price=data["unit_price"],
        amount=quantize(amount, subscription.currency),
        currency=subscription.currency,
        period_start=data["period_start"],
        period_end=data["period_end"],
        event_id=event.pk,
    )


@register("usage.recorded")
def usage_recorded(event: FinanceEvent, envelope: Envelope, actor) -> dict:
    """Record metered usage of a live subscription, priced in the subscription's currency.

    One query reads the subscription with its customer, the customer's legal entity (the
    envelope's, nearly always: another code is looked up on its own) and whether the usage
    id is taken; the checks are `usage_check`'s, in its order (measured on ingest_single:
    three queries were a quarter of a usage event's statements).
    """
    data = envelope.data
    subscription = (
        Subscription.objects.select_related("customer__entity")
        .annotate(usage_taken=Exists(UsageRecord.objects.filter(usage_id=data["usage_id"])))
        .filter(subscription_id=data["subscription_id"])
        .first()
    )
    entity = entity_of(envelope, subscription.customer if subscription else None)
    usage_check(
        envelope,
        entity=entity,
        subscription=subscription,
        usage_exists=subscription is not None and subscription.usage_taken,
    )
    usage = usage_build(event, envelope, subscription)
    usage.save()
    return {"usage": usage.usage_id, "subscription": subscription.subscription_id}
