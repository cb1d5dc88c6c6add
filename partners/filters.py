"""FilterSets of partners, shared by the API lists (and the console lists, later)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from partners.choices import (
    AccrualSource,
    AgreementState,
    CommissionBasis,
    PartnerKind,
    SettlementState,
)
from partners.models import Accrual, Agreement, Partner, Settlement


class PartnerFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=PartnerKind.choices)
    parent = django_filters.CharFilter(field_name="parent__partner_id", label="Parent partner")
    country = django_filters.CharFilter()
    currency = django_filters.CharFilter()

    class Meta:
        model = Partner
        fields = ["kind", "parent", "country", "currency"]


class AgreementFilterSet(django_filters.FilterSet):
    partner = django_filters.CharFilter(field_name="partner__partner_id", label="Partner")
    state = django_filters.ChoiceFilter(choices=AgreementState.choices)
    basis = django_filters.ChoiceFilter(choices=CommissionBasis.choices)
    reference = django_filters.CharFilter()
    active_on = django_filters.DateFilter(method="filter_active_on", label="In effect on")

    class Meta:
        model = Agreement
        fields = ["partner", "state", "basis", "reference", "active_on"]

    def filter_active_on(self, queryset: QuerySet, name: str, value) -> QuerySet:
        return queryset.filter(effective_from__lte=value).filter(
            Q(effective_to__isnull=True) | Q(effective_to__gt=value)
        )


class AccrualFilterSet(django_filters.FilterSet):
    partner = django_filters.CharFilter(field_name="partner__partner_id", label="Partner")
    source_kind = django_filters.MultipleChoiceFilter(choices=AccrualSource.choices)
    period_start = django_filters.DateFilter()
    currency = django_filters.CharFilter()
    settlement = django_filters.NumberFilter(
        field_name="settlement_line__settlement", label="Settlement"
    )
    unsettled = django_filters.BooleanFilter(
        field_name="settlement_line", lookup_expr="isnull", label="Not on a statement"
    )

    class Meta:
        model = Accrual
        fields = ["partner", "source_kind", "period_start", "currency", "settlement", "unsettled"]


class SettlementFilterSet(django_filters.FilterSet):
    partner = django_filters.CharFilter(field_name="partner__partner_id", label="Partner")
    state = django_filters.MultipleChoiceFilter(choices=SettlementState.choices)
    period_start = django_filters.DateFilter()
    currency = django_filters.CharFilter()

    class Meta:
        model = Settlement
        fields = ["partner", "state", "period_start", "currency"]
