from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin

from config.accounts.models import ApiClient, SecurityEvent, User


@admin.register(User)
class ConcordUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Concord", {"fields": ("partner_code", "is_api_client")}))


@admin.register(ApiClient)
class ApiClientAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "scopes", "throttle_rate")


@admin.register(SecurityEvent)
class SecurityEventAdmin(admin.ModelAdmin):
    """Read-only: security events are append-only."""

    list_display = ("occurred_at", "kind", "username", "ip_address", "path")
    list_filter = ("kind",)
    search_fields = ("username", "path")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
