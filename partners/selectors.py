"""Reads of partners for the console, the API and other apps."""

from django.db.models import QuerySet

from partners.models import Partner


def partner_list() -> QuerySet[Partner]:
    """Partners with their parent joined, ordered by partner_id."""
    return Partner.objects.select_related("parent")
