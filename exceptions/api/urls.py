"""API routes of exceptions, mounted under /api/v1/ by config/api_router.py."""

from rest_framework.routers import SimpleRouter

from exceptions.api.views import CaseViewSet

router = SimpleRouter()
# The constructor only takes a bool ("/" or ""); set the pattern so both
# /api/v1/cases and /api/v1/cases/ resolve, as DESIGN.md writes the paths without a slash.
router.trailing_slash = "/?"
router.register("cases", CaseViewSet, basename="case")
urlpatterns = router.urls
