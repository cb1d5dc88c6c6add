import django_filters

from config.accounts.models import SecurityEvent, SecurityEventKind


class SecurityEventFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=SecurityEventKind.choices)
    username = django_filters.CharFilter(lookup_expr="icontains", label="User")

    class Meta:
        model = SecurityEvent
        fields = ["kind", "username"]
