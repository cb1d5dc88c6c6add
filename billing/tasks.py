"""Billing's Celery tasks: thin wrappers that call services."""

import logging

from celery import shared_task
from django.contrib.auth import get_user_model

from billing.services.awaiting import awaiting_sweep, events_release_awaiting

logger = logging.getLogger(__name__)

SYSTEM_USERNAME = "system:billing"


def system_actor():
    """The "system:billing" user the tasks act as in history rows (it cannot sign in)."""
    user, created = get_user_model().objects.get_or_create(
        username=SYSTEM_USERNAME, defaults={"is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


@shared_task(name="billing.release_awaiting", queue="events", ignore_result=True)
def release_awaiting(*, keys: list[list[str]]) -> dict:
    """Re-apply the events waiting for the records `keys` ([kind, record id] pairs)."""
    counts = events_release_awaiting(keys=[tuple(key) for key in keys], actor=system_actor())
    logger.info("release_awaiting", extra={"keys": len(keys), **counts})
    return counts


@shared_task(name="billing.awaiting_sweep", queue="events", ignore_result=True)
def sweep_awaiting() -> dict:
    """Release waiting events whose record exists; escalate those past the window."""
    return awaiting_sweep(actor=system_actor())
