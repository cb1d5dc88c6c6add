"""FilterSets of reconciliation, shared by the API lists and (later) the console lists."""

import django_filters

from reconciliation.choices import BreakKind, BreakState, MatchRule, MatchStatus, RunScope, RunState
from reconciliation.models import Break, Match, ReconciliationRun


class ReconciliationRunFilterSet(django_filters.FilterSet):
    entity = django_filters.CharFilter(field_name="entity__code", label="Entity")
    scope = django_filters.ChoiceFilter(choices=RunScope.choices)
    state = django_filters.ChoiceFilter(choices=RunState.choices)
    period_start = django_filters.DateFilter()

    class Meta:
        model = ReconciliationRun
        fields = ["entity", "scope", "state", "period_start"]


class BreakFilterSet(django_filters.FilterSet):
    entity = django_filters.CharFilter(field_name="entity__code", label="Entity")
    kind = django_filters.ChoiceFilter(choices=BreakKind.choices)
    state = django_filters.ChoiceFilter(choices=BreakState.choices)
    party_code = django_filters.CharFilter(label="Customer")
    period_start = django_filters.DateFilter()

    class Meta:
        model = Break
        fields = ["entity", "kind", "state", "party_code", "period_start"]


class MatchFilterSet(django_filters.FilterSet):
    rule = django_filters.ChoiceFilter(choices=MatchRule.choices)
    status = django_filters.ChoiceFilter(choices=MatchStatus.choices)

    class Meta:
        model = Match
        fields = ["rule", "status"]
