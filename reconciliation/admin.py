"""Admin of reconciliation: tolerances are configuration; runs and breaks are read-only."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from reconciliation.models import Break, CurrencyTolerance, ReconciliationRun


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin):
    """Runs and breaks change only through services (API, console, tasks)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CurrencyTolerance)
class CurrencyToleranceAdmin(SimpleHistoryAdmin):
    list_display = ("currency", "tolerance_amount")


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyHistoryAdmin):
    list_display = ("id", "entity", "period_start", "period_end", "scope", "state", "break_count")
    list_filter = ("state", "scope")


@admin.register(Break)
class BreakAdmin(ReadOnlyHistoryAdmin):
    list_display = ("id", "entity", "period_start", "kind", "key", "state", "difference_amount")
    list_filter = ("state", "kind")
