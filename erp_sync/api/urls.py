"""API routes of erp_sync, mounted under /api/v1/ by config/api_router.py."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter()
router.trailing_slash = "/?"  # accept /events and /events/
# --- rules and connections ---
from erp_sync.api.views import ConnectionViewSet, MappingRuleViewSet  # noqa: E402

router.register("mapping-rules", MappingRuleViewSet, basename="mapping-rule")
router.register("connections", ConnectionViewSet, basename="connection")
# --- end rules and connections ---
# --- sync jobs (job engine) ---
from erp_sync.api.job_views import SyncJobViewSet  # noqa: E402

router.register("sync-jobs", SyncJobViewSet, basename="sync-job")
# --- end sync jobs ---

urlpatterns = router.urls
