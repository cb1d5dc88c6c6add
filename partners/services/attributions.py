"""Attribution: which partner (in which role) is credited with a subscription or customer.

Created from the console/API (`attribution_create`) and from `subscription.created`'s
partner fields (`attributions_from_subscriptions`, run by the `event_applied` receiver and
idempotent, so the periodic re-run catches a signal that was lost).
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q

from billing.models import Customer, FinanceEvent, Subscription
from config.history import stamp
from exceptions.services import case_open_or_bump
from partners.choices import AttributionOrigin, AttributionRole
from partners.errors import AttributionInvalid
from partners.models import Attribution, Partner

logger = logging.getLogger(__name__)


def _bad(field: str, message: str, code: str) -> AttributionInvalid:
    return AttributionInvalid(f"{field}: {message}", code=code, field=field)


def _overlapping(*, target: dict, role: str, start: dt.date, end: dt.date | None):
    clash = Attribution.objects.filter(role=role, **target).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gt=start)
    )
    return clash.filter(valid_from__lt=end) if end is not None else clash


def attribution_create(
    *,
    partner_id: str,
    role: str,
    valid_from: dt.date,
    actor,
    subscription_id: str | None = None,
    customer_id: str | None = None,
    valid_to: dt.date | None = None,
    origin: str = AttributionOrigin.CONSOLE,
    event: FinanceEvent | None = None,
) -> Attribution:
    """Credit a subscription (or, without one, a customer) to a partner in `role`.

    Refuses (AttributionInvalid, `field` naming the input) an unknown partner, subscription or
    customer, both or neither target, an unknown role, an end not after the start, and a
    range overlapping another attribution of the same target and role. The target's row is
    locked while checking, so two concurrent creations cannot both pass the overlap check.
    """
    if role not in AttributionRole.values:
        raise _bad("role", f"{role!r} is not one of {', '.join(AttributionRole.values)}", "invalid")
    if bool(subscription_id) == bool(customer_id):
        raise _bad("subscription_id", "give a subscription or a customer, not both", "target")
    if valid_to is not None and valid_to <= valid_from:
        raise _bad("valid_to", f"end {valid_to} must be after the start {valid_from}", "range")
    with transaction.atomic():
        partner = Partner.objects.filter(partner_id=partner_id).first()
        if partner is None:
            raise _bad("partner_id", f"no partner with id {partner_id!r}", "unknown_partner")
        if subscription_id:
            found = Subscription.objects.select_for_update().filter(subscription_id=subscription_id)
            record = found.first()
            if record is None:
                raise _bad("subscription_id", f"no subscription {subscription_id!r}", "unknown")
            target = {"subscription": record}
        else:
            record = Customer.objects.select_for_update().filter(customer_id=customer_id).first()
            if record is None:
                raise _bad("customer_id", f"no customer {customer_id!r}", "unknown")
            target = {"customer": record}
        other = _overlapping(target=target, role=role, start=valid_from, end=valid_to).first()
        if other is not None:
            raise _bad(
                "valid_from",
                f"{record} already has a {role} attribution to {other.partner.partner_id} from "
                f"{other.valid_from} to {other.valid_to or 'open end'}, overlapping "
                f"{valid_from} to {valid_to or 'open end'}",
                "attribution_overlap",
            )
        attribution = Attribution(
            partner=partner,
            role=role,
            valid_from=valid_from,
            valid_to=valid_to,
            origin=origin,
            event=event,
            **target,
        )
        stamp(attribution, actor=actor, reason=f"attributed {record} to {partner_id} as {role}")
        attribution.save()
        return attribution


def attribution_end(*, attribution: Attribution, valid_to: dt.date | None, actor) -> Attribution:
    """Set (or clear, with None) the day the attribution stops, exclusive: the console's edit
    of an attribution. Who, what and from when stay as they are (credit a deal to another
    partner by ending this one and creating the next). Idempotent.

    Refuses (AttributionInvalid) an end not after the start, and a range overlapping another
    attribution of the same target and role; the target's row is locked while checking.
    """
    with transaction.atomic():
        current = Attribution.objects.select_related("partner").get(pk=attribution.pk)
        model, target = (
            (Subscription, {"subscription_id": current.subscription_id})
            if current.subscription_id
            else (Customer, {"customer_id": current.customer_id})
        )
        record = model.objects.select_for_update().get(pk=next(iter(target.values())))
        current = Attribution.objects.select_for_update().get(pk=attribution.pk)
        if current.valid_to == valid_to:
            return current
        if valid_to is not None and valid_to <= current.valid_from:
            raise _bad(
                "valid_to", f"end {valid_to} must be after the start {current.valid_from}", "range"
            )
        other = (
            _overlapping(target=target, role=current.role, start=current.valid_from, end=valid_to)
            .exclude(pk=current.pk)
            .first()
        )
        if other is not None:
            raise _bad(
                "valid_to",
                f"{record} already has a {current.role} attribution to "
                f"{other.partner.partner_id} from {other.valid_from}: it would overlap",
                "attribution_overlap",
            )
        before = current.valid_to or "open end"
        current.valid_to = valid_to
        stamp(current, actor=actor, reason=f"end changed from {before} to {valid_to or 'open end'}")
        current.save(update_fields=["valid_to"])
        return current


def attributions_from_subscriptions(*, subscription_ids: list[int] | None = None, actor) -> int:
    """Create the attribution each partnered subscription's `subscription.created` asked for.

    Only subscriptions with a partner code and no attribution yet (one query finds them);
    the role is `partner_role` when it is a known role, else the partner's kind. A partner
    that does not exist opens an `unknown_partner` case on the subscription instead.
    Idempotent. Returns how many attributions it created.
    """
    pending = Subscription.objects.exclude(partner_code="").filter(
        ~Exists(Attribution.objects.filter(subscription=OuterRef("pk")))
    )
    if subscription_ids is not None:
        pending = pending.filter(pk__in=subscription_ids)
    pending = list(pending.select_related("customer"))
    partners = Partner.objects.in_bulk({s.partner_code for s in pending}, field_name="partner_id")
    created = 0
    for subscription in pending:
        partner = partners.get(subscription.partner_code)
        if partner is None:
            case_open_or_bump(
                subject=subscription,
                kind="unknown_partner",
                severity="medium",
                title=f"Subscription {subscription} names unknown partner "
                f"{subscription.partner_code!r}",
                customer=subscription.customer.customer_id,
                partner=subscription.partner_code,
                actor=actor,
            )
            continue
        role = subscription.partner_role
        if role not in AttributionRole.values:
            role = partner.kind
        try:
            attribution_create(
                partner_id=partner.partner_id,
                subscription_id=subscription.subscription_id,
                role=role,
                valid_from=subscription.start_date,
                origin=AttributionOrigin.EVENT,
                event=subscription.event,
                actor=actor,
            )
            created += 1
        except (AttributionInvalid, IntegrityError) as error:
            # Someone attributed it by hand meanwhile: theirs stands.
            logger.info("subscription %s not attributed: %s", subscription, error)
    return created


def on_event_applied(sender, events=None, **kwargs) -> None:
    """billing's `event_applied`: attribute the partnered subscriptions just created.

    One query for the whole list. A failure is logged, not raised: the events are committed;
    `attributions_from_subscriptions` without ids (periodic task) catches up.
    """
    ids = [
        e.data.get("subscription_id")
        for e in events or []
        if e.type == "subscription.created" and e.data.get("partner_id")
    ]
    if not ids:
        return
    try:
        pks = list(
            Subscription.objects.filter(subscription_id__in=ids).values_list("pk", flat=True)
        )
        attributions_from_subscriptions(subscription_ids=pks, actor=None)
    except Exception:
        logger.exception("attributing %d subscriptions failed; the periodic run retries", len(ids))
