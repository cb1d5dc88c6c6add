"""API routes of billing, mounted under /api/v1/ by config/api_router.py.

An event is addressed by its source system's (source, id). A source may contain ':' and
'/' (CloudEvents sources are URI references), so the source takes everything up to the last
two path segments.
"""

from django.urls import re_path
from rest_framework.routers import SimpleRouter

from billing.api import event_types, views

router = SimpleRouter()
# The constructor only takes a bool; this pattern makes /invoices and /invoices/ both resolve.
router.trailing_slash = "/?"
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("credit-notes", views.CreditNoteViewSet, basename="credit-note")

Events = views.FinanceEventViewSet
_EVENT = r"events/(?P<source>.+)/(?P<event_id>[^/]+)"

urlpatterns = [
    re_path(r"^event-types/?$", event_types.EventTypeListView.as_view(), name="event-type-list"),
    re_path(r"^events/?$", Events.as_view({"get": "list", "post": "create"}), name="event-list"),
    re_path(r"^events/batch/?$", Events.as_view({"post": "batch"}), name="event-batch"),
    re_path(
        r"^events/replay/?$", Events.as_view({"post": "replay_bulk"}), name="event-replay-bulk"
    ),
    re_path(rf"^{_EVENT}/replay/?$", Events.as_view({"post": "replay"}), name="event-replay"),
    re_path(rf"^{_EVENT}/correct/?$", Events.as_view({"post": "correct"}), name="event-correct"),
    re_path(rf"^{_EVENT}/?$", Events.as_view({"get": "retrieve"}), name="event-detail"),
    *router.urls,
]
