"""The identity reconciliation's Celery task acts as in history rows."""

from django.contrib.auth import get_user_model

SYSTEM_USERNAME = "system:reconciliation"


def system_actor():
    """The "system:reconciliation" user (created on first use; it cannot sign in)."""
    user, created = get_user_model().objects.get_or_create(username=SYSTEM_USERNAME)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
