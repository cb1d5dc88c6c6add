"""API routes of reconciliation, mounted under /api/v1/ by config/api_router.py."""

from rest_framework.routers import SimpleRouter

router = SimpleRouter()
router.trailing_slash = "/?"  # accept /events and /events/
urlpatterns = router.urls
