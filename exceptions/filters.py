"""The one FilterSet of cases, shared by the API list and the console list."""

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from django.utils import timezone

from exceptions.models import ACTIVE_STATES, Case, CaseSeverity, CaseState


class CaseFilterSet(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=CaseState.choices)
    severity = django_filters.MultipleChoiceFilter(choices=CaseSeverity.choices)
    kind = django_filters.CharFilter()
    entity = django_filters.CharFilter()
    customer = django_filters.CharFilter()
    partner = django_filters.CharFilter()
    period = django_filters.CharFilter(help_text='"YYYY-MM"')
    owner = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.filter(is_api_client=False).order_by("username")
    )
    subject_type = django_filters.CharFilter(
        method="filter_subject_type", help_text='model name ("financeevent") or "app.model"'
    )
    overdue = django_filters.BooleanFilter(
        method="filter_overdue", label="Overdue", help_text="open or acknowledged and past its SLA"
    )

    class Meta:
        model = Case
        fields = [
            "state",
            "severity",
            "kind",
            "entity",
            "customer",
            "partner",
            "period",
            "owner",
            "subject_type",
            "overdue",
        ]

    def filter_subject_type(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        app_label, _, model = value.lower().rpartition(".")
        lookup = Q(subject_type__model=model)
        if app_label:
            lookup &= Q(subject_type__app_label=app_label)
        return queryset.filter(lookup)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        overdue = Q(state__in=ACTIVE_STATES, sla_due_at__lt=timezone.now())
        return queryset.filter(overdue) if value else queryset.exclude(overdue)
