"""The one place that sees every app. It only routes."""

from django.contrib import admin
from django.urls import include, path

from config import health, views

# A path under /api/ that matches no route (e.g. /api/v1/cases/0.5/) answers JSON too.
handler404 = "config.api.errors.not_found"
# A request the database failed answers 503 saying so, not a 500.
handler500 = "config.api.errors.server_error"

urlpatterns = [
    path("", views.home, name="console-home"),
    path("accounts/", include("config.accounts.urls")),
    path("api/v1/", include("config.api_router")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("exceptions/", include("exceptions.urls")),
    path("billing/", include("billing.urls")),
    path("partners/", include("partners.urls")),
    path("erp/", include("erp_sync.urls")),
    path("reconciliation/", include("reconciliation.urls")),
]
