"""Reads of partners for the console, the API and other apps."""

from django.db.models import Count, Prefetch, QuerySet

from partners.models import (
    Accrual,
    Agreement,
    Attribution,
    CommissionRule,
    Partner,
    Settlement,
    SettlementLine,
    SettlementStatement,
)


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


# --- the partner portal -------------------------------------------------------------------
# Internal roles hold partners.view_settlement and read every partner's settlements; a
# partner user holds only partners.view_own_statements and reads its own partner's (its
# User.partner_code). Anything outside the scope is simply not in the queryset, so a lookup
# answers 404 and never reveals that another partner's record exists.

ALL_PARTNERS = "partners.view_settlement"
OWN_PARTNER = "partners.view_own_statements"


def scoped(queryset: QuerySet, user, *, field: str = "partner__partner_id") -> QuerySet:
    """`queryset` narrowed to what `user` may read (None: an API client with a read scope)."""
    if user is None or user.has_perm(ALL_PARTNERS):
        return queryset
    code = getattr(user, "partner_code", "")
    if code and user.has_perm(OWN_PARTNER):
        return queryset.filter(**{field: code})
    return queryset.none()


def settlement_get(pk: int, *, user) -> Settlement:
    """One settlement with its lines, the accruals behind them and what clawbacks refer to."""
    lines = SettlementLine.objects.select_related(
        "accrual__rule", "accrual__agreement", "accrual__invoice", "refers_to__settlement"
    ).order_by("id")
    queryset = settlement_list().prefetch_related(Prefetch("lines", queryset=lines))
    return scoped(queryset, user).get(pk=pk)


def statement_get(settlement_pk: int, *, user) -> SettlementStatement:
    """The frozen statement of a settlement the user may read (DoesNotExist otherwise)."""
    queryset = SettlementStatement.objects.select_related("settlement__partner")
    return scoped(queryset, user, field="settlement__partner__partner_id").get(
        settlement_id=settlement_pk
    )


def partner_get(pk: int) -> Partner:
    return partner_list().get(pk=pk)


def partner_agreements(partner: Partner) -> QuerySet[Agreement]:
    """Every version of the partner's agreements, oldest first."""
    return agreement_list().filter(partner=partner)


def partner_attributions(partner: Partner) -> QuerySet[Attribution]:
    return Attribution.objects.filter(partner=partner).select_related(
        "customer", "subscription__customer"
    )


def attribution_get(pk: int) -> Attribution:
    return Attribution.objects.select_related("partner", "customer", "subscription__customer").get(
        pk=pk
    )


def agreement_get(pk: int) -> Agreement:
    return agreement_list().get(pk=pk)


def agreement_versions(agreement: Agreement) -> QuerySet[Agreement]:
    """All versions of the agreement's reference, newest first."""
    return Agreement.objects.filter(reference=agreement.reference).order_by("-version")


def settlement_state_counts(user) -> dict[str, int]:
    """How many settlements the user may read are in each state (one query)."""
    rows = scoped(Settlement.objects.all(), user).values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}
