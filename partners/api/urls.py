"""API routes of partners, mounted under /api/v1/ by config/api_router.py."""

from rest_framework.routers import SimpleRouter

from partners.api.views import AccrualViewSet, AgreementViewSet, PartnerViewSet, SettlementViewSet

router = SimpleRouter()
router.trailing_slash = "/?"  # accept /events and /events/
router.register("partners", PartnerViewSet, basename="partner")
router.register("agreements", AgreementViewSet, basename="agreement")
router.register("accruals", AccrualViewSet, basename="accrual")
router.register("settlements", SettlementViewSet, basename="settlement")
urlpatterns = router.urls
