"""Reads of partners for the console, the API and other apps."""

from django.db.models import Prefetch, QuerySet

from partners.models import Accrual, Agreement, CommissionRule, Partner, Settlement


def partner_list() -> QuerySet[Partner]:
    """Partners with their parent and paying entity joined, ordered by partner_id."""
    return Partner.objects.select_related("parent", "paying_entity")


def agreement_list() -> QuerySet[Agreement]:
    """Agreement versions with partner, rules and tiers (three queries for any number)."""
    rules = CommissionRule.objects.prefetch_related("tiers").order_by("id")
    return (
        Agreement.objects.select_related("partner")
        .prefetch_related(Prefetch("rules", queryset=rules))
        .order_by("partner__partner_id", "effective_from", "version")
    )


def accrual_list() -> QuerySet[Accrual]:
    """Accruals with what a statement line shows beside them, newest first."""
    return Accrual.objects.select_related(
        "partner", "rule", "agreement", "settlement_line__settlement"
    ).order_by("-id")


def settlement_list() -> QuerySet[Settlement]:
    return Settlement.objects.select_related("partner", "submitted_by", "approved_by").order_by(
        "-period_start", "partner__partner_id", "currency"
    )


def settlement_detail_queryset() -> QuerySet[Settlement]:
    """Settlements with their lines (and what each clawback refers to) prefetched."""
    return settlement_list().prefetch_related("lines__refers_to__settlement")
