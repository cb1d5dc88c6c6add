"""Reads of partners for the console, the API and other apps."""

from django.db.models import QuerySet

from partners.models import Partner


def partner_list() -> QuerySet[Partner]:
    """Partners with their parent joined, ordered by partner_id."""
    return Partner.objects.select_related("parent")


def partner_get(*, partner_id: str) -> Partner:
    """One partner by its source-system id. Raises Partner.DoesNotExist."""
    return partner_list().get(partner_id=partner_id)
