"""API routes of reconciliation, mounted under /api/v1/ by config/api_router.py."""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from reconciliation.api.reports import CloseChecklistView, KpiView
from reconciliation.api.views import BreakViewSet, MatchDecisionViewSet, ReconciliationRunViewSet

router = SimpleRouter()
router.trailing_slash = "/?"  # accept /events and /events/
# Breaks and matches first: their prefixes start with the runs' one.
router.register("reconciliation-runs/breaks", BreakViewSet, basename="reconciliation-break")
router.register(
    "reconciliation-runs/matches", MatchDecisionViewSet, basename="reconciliation-match"
)
router.register("reconciliation-runs", ReconciliationRunViewSet, basename="reconciliation-run")
urlpatterns = [
    re_path(r"^kpis/?$", KpiView.as_view(), name="kpis"),
    re_path(r"^close-checklist/?$", CloseChecklistView.as_view(), name="close-checklist"),
    *router.urls,
]
