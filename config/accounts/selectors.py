"""Reads of accounts data."""

from config.accounts.models import SecurityEvent


def security_event_list():
    return SecurityEvent.objects.select_related("user").order_by("-occurred_at", "-id")
