"""The /api/v1/ tree: every app's API routes plus the OpenAPI schema and docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from config.api.views import SchemaPermissionMixin

urlpatterns = [
    path("", include("exceptions.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("partners.api.urls")),
    path("", include("erp_sync.api.urls")),
    path("", include("reconciliation.api.urls")),
    path(
        "schema/",
        type("SchemaView", (SchemaPermissionMixin, SpectacularAPIView), {}).as_view(),
        name="api-schema",
    ),
    path(
        "docs/",
        type("DocsView", (SchemaPermissionMixin, SpectacularSwaggerSplitView), {}).as_view(
            url_name="api-schema"
        ),
        name="api-docs",
    ),
]
