"""FilterSets of erp_sync, shared by the API lists and the console lists."""

from __future__ import annotations

import datetime as dt

import django_filters
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.choice_fields import ModelChoiceFilter
from config.filters import DateTimeFilter
from erp_sync.choices import AdapterKind, CircuitState, DocumentType, HoldReason, SyncJobState
from erp_sync.models import Connection, MappingRule, SyncJob
from exceptions.selectors import case_item_subject_pks

# --- rules and connections ----------------------------------------------------------------


class MappingRuleFilterSet(django_filters.FilterSet):
    entity = django_filters.CharFilter()
    document_type = django_filters.ChoiceFilter(choices=DocumentType.choices)
    product_family = django_filters.CharFilter()
    is_active = django_filters.BooleanFilter()
    name = django_filters.CharFilter(lookup_expr="icontains")
    valid_on = django_filters.DateFilter(method="filter_valid_on", label="Valid on")

    class Meta:
        model = MappingRule
        fields = ["entity", "document_type", "product_family", "is_active", "name", "valid_on"]

    def filter_valid_on(self, queryset: QuerySet, name: str, value) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(valid_from__lte=value).filter(
            Q(valid_to__isnull=True) | Q(valid_to__gte=value)
        )


class ConnectionFilterSet(django_filters.FilterSet):
    entity = django_filters.CharFilter(field_name="entity__code", label="Entity")
    adapter_kind = django_filters.ChoiceFilter(choices=AdapterKind.choices)
    circuit_state = django_filters.ChoiceFilter(choices=CircuitState.choices)
    paused = django_filters.BooleanFilter()
    is_active = django_filters.BooleanFilter()

    class Meta:
        model = Connection
        fields = ["entity", "adapter_kind", "circuit_state", "paused", "is_active"]


# --- sync jobs (job engine) ---------------------------------------------------------------


class SyncJobFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=SyncJobState.choices)
    connection = ModelChoiceFilter(queryset=Connection.objects.order_by("name"))
    entity = django_filters.CharFilter(field_name="connection__entity__code", label="Entity")
    document_type = django_filters.ChoiceFilter(choices=DocumentType.choices)
    hold_reason = django_filters.ChoiceFilter(choices=HoldReason.choices)
    last_error_code = django_filters.CharFilter()
    external_id = django_filters.CharFilter()
    created_after = DateTimeFilter(field_name="created_at", lookup_expr="gte", label="Created from")
    created_before = DateTimeFilter(
        field_name="created_at", lookup_expr="lt", label="Created before"
    )
    posted_after = DateTimeFilter(field_name="posted_at", lookup_expr="gte", label="Posted from")
    older_than_minutes = django_filters.NumberFilter(
        # At most ten years: a larger value would overflow the date arithmetic.
        method="filter_older_than",
        label="Older than (minutes)",
        min_value=0,
        max_value=10 * 366 * 24 * 60,
    )
    blocked_by_case = django_filters.NumberFilter(
        method="filter_blocked_by_case", label="Blocked under case #", min_value=1
    )

    class Meta:
        model = SyncJob
        fields = [
            "state",
            "connection",
            "entity",
            "document_type",
            "hold_reason",
            "last_error_code",
            "external_id",
            "created_after",
            "created_before",
            "posted_after",
            "older_than_minutes",
            "blocked_by_case",
        ]

    def filter_blocked_by_case(self, queryset: QuerySet, name: str, value) -> QuerySet:
        """The jobs a grouped case still blocks (its open items): a case page shows the first
        50 of them and links here for all."""
        if value is None:
            return queryset
        return queryset.filter(pk__in=case_item_subject_pks(int(value), SyncJob))

    def filter_older_than(self, queryset: QuerySet, name: str, value) -> QuerySet:
        if value is None:
            return queryset
        return queryset.filter(created_at__lt=timezone.now() - dt.timedelta(minutes=float(value)))
