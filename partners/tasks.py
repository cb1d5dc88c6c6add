"""Periodic work of partners (thin: each calls one service)."""

from celery import shared_task

from partners.services.attributions import attributions_from_subscriptions
from partners.services.holds import settlements_recheck_holds


@shared_task(name="partners.settlements_recheck_holds")
def settlements_recheck_holds_task() -> int:
    """Hold or release settlements as their blocking cases open and close."""
    return settlements_recheck_holds(actor=None)


@shared_task(name="partners.attributions_from_subscriptions")
def attributions_from_subscriptions_task() -> int:
    """Attribute partnered subscriptions whose `event_applied` signal was lost."""
    return attributions_from_subscriptions(actor=None)
