from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from rest_framework_api_key.admin import APIKeyModelAdmin

from config.accounts.models import ApiClient, User


@admin.register(User)
class ConcordUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("Concord", {"fields": ("partner_code", "is_api_client")}))


@admin.register(ApiClient)
class ApiClientAdmin(APIKeyModelAdmin):
    list_display = (*APIKeyModelAdmin.list_display, "scopes", "throttle_rate")
