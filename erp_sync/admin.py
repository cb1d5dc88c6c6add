"""Admin of erp_sync: read-only views for support. Every change goes through the console or
the API, whose services check ties, accounts and secrets and write the history reason."""

from django.contrib import admin

from erp_sync.models import Connection, MaintenanceWindow, MappingRule, SandboxDocument


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Connection)
class ConnectionAdmin(ReadOnlyAdmin):
    list_display = ("name", "entity", "adapter_kind", "circuit_state", "paused", "is_active")
    list_filter = ("adapter_kind", "circuit_state", "paused", "is_active")
    exclude = ("settings",)  # shown redacted by the API and console only


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(ReadOnlyAdmin):
    list_display = ("connection", "starts_at", "ends_at", "reason")


@admin.register(MappingRule)
class MappingRuleAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "is_active", "entity", "document_type", "specificity")
    list_filter = ("is_active", "document_type", "entity")
    search_fields = ("name",)


@admin.register(SandboxDocument)
class SandboxDocumentAdmin(ReadOnlyAdmin):
    list_display = ("number", "connection", "kind", "external_id", "total_amount", "currency")
    list_filter = ("kind", "connection")
    search_fields = ("external_id", "number")
