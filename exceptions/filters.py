"""The one FilterSet of cases, shared by the API list and the console queue."""

from datetime import timedelta

import django_filters
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.choice_fields import ModelChoiceFilter
from exceptions.kinds import CaseKind
from exceptions.models import ACTIVE_STATES, Case, CaseItem, CaseSeverity, CaseState

# Age of a case (since it was first seen), as the queue offers it.
AGE_BUCKETS = {
    "lt_1d": (None, timedelta(days=1)),
    "1_3d": (timedelta(days=1), timedelta(days=3)),
    "3_7d": (timedelta(days=3), timedelta(days=7)),
    "gt_7d": (timedelta(days=7), None),
}
AGE_CHOICES = [
    ("lt_1d", "Under a day"),
    ("1_3d", "1 to 3 days"),
    ("3_7d", "3 to 7 days"),
    ("gt_7d", "Over a week"),
]
# A case due within this much is "due soon".
DUE_SOON = timedelta(hours=4)
SLA_CHOICES = [
    ("breached", "Past its SLA"),
    ("due_soon", "Due within 4 hours"),
    ("on_time", "On time"),
]


def age_q(bucket: str, now) -> Q:
    """Cases first seen within age `bucket` (a key of AGE_BUCKETS) as of `now`: at least its
    lower bound old and younger than its upper one. The queue's filter and the dashboard's
    backlog count with this one condition."""
    low, high = AGE_BUCKETS[bucket]
    condition = Q()
    if low is not None:
        condition &= Q(first_seen_at__lte=now - low)
    if high is not None:
        condition &= Q(first_seen_at__gt=now - high)
    return condition


def sla_q(state: str, now=None) -> Q:
    """Open/acknowledged cases in SLA state `state` (breached, due_soon, on_time)."""
    now = now or timezone.now()
    active = Q(state__in=ACTIVE_STATES)
    if state == "breached":
        return active & Q(sla_due_at__lt=now)
    if state == "due_soon":
        return active & Q(sla_due_at__gte=now, sla_due_at__lt=now + DUE_SOON)
    return active & (Q(sla_due_at__gte=now + DUE_SOON) | Q(sla_due_at__isnull=True))


class CaseFilterSet(django_filters.FilterSet):
    # distinct=False: these filter the case's own columns (no join can repeat a row), and a
    # DISTINCT would make PostgreSQL collect and sort every matching case for one page.
    state = django_filters.MultipleChoiceFilter(choices=CaseState.choices, distinct=False)
    severity = django_filters.MultipleChoiceFilter(choices=CaseSeverity.choices, distinct=False)
    kind = django_filters.MultipleChoiceFilter(choices=CaseKind.choices, distinct=False)
    entity = django_filters.CharFilter()
    customer = django_filters.CharFilter(
        method="filter_customer", help_text="the case's customer, or one of its blocked records'"
    )
    partner = django_filters.CharFilter()
    period = django_filters.CharFilter(help_text='"YYYY-MM"')
    owner = ModelChoiceFilter(
        queryset=get_user_model().objects.filter(is_api_client=False).order_by("username")
    )
    owner_group = ModelChoiceFilter(queryset=Group.objects.order_by("name"), label="Owning group")
    unassigned = django_filters.BooleanFilter(
        field_name="owner", lookup_expr="isnull", label="Unassigned"
    )
    age = django_filters.ChoiceFilter(
        choices=AGE_CHOICES, method="filter_age", label="Age", help_text="since first seen"
    )
    sla = django_filters.ChoiceFilter(
        choices=SLA_CHOICES, method="filter_sla", label="SLA", help_text="open/acknowledged only"
    )
    escalated = django_filters.BooleanFilter(method="filter_escalated", label="Escalated")
    waiting = django_filters.BooleanFilter(
        method="filter_waiting",
        label="Waiting for a record",
        help_text="an event that waits for a record yet to arrive (applied when it does)",
    )
    grouped = django_filters.BooleanFilter(
        method="filter_grouped", label="Grouped by cause", help_text="blocks many records"
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
            "owner_group",
            "unassigned",
            "age",
            "sla",
            "escalated",
            "waiting",
            "grouped",
            "subject_type",
            "overdue",
        ]

    def filter_customer(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        items = CaseItem.objects.filter(customer=value, cleared_at__isnull=True)
        # The few grouped cases first: an OR over a subquery would scan every case.
        grouped = list(items.values_list("case_id", flat=True).distinct()[:1000])
        return queryset.filter(Q(customer=value) | Q(pk__in=grouped))

    def filter_subject_type(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        app_label, _, model = value.lower().rpartition(".")
        lookup = Q(subject_type__model=model)
        if app_label:
            lookup &= Q(subject_type__app_label=app_label)
        return queryset.filter(lookup)

    def filter_overdue(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        overdue = sla_q("breached")
        return queryset.filter(overdue) if value else queryset.exclude(overdue)

    def filter_age(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(age_q(value, timezone.now()))

    def filter_sla(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(sla_q(value))

    def filter_escalated(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        return queryset.filter(escalated_at__isnull=not value)

    def filter_grouped(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        return queryset.exclude(cause_key="") if value else queryset.filter(cause_key="")

    def filter_waiting(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        waiting = Q(detail__has_key="waiting_for", escalated_at__isnull=True)
        return queryset.filter(waiting) if value else queryset.exclude(waiting)
