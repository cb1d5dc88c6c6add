"""Console pages of billing."""

from django.urls import path

from billing import views

app_name = "billing"
urlpatterns = [
    path("events/", views.event_list, name="event-list"),
    path("events/<int:pk>/", views.event_detail, name="event-detail"),
    path("events/<int:pk>/replay", views.event_replay_view, name="event-replay"),
    path("events/<int:pk>/discard", views.event_discard_view, name="event-discard"),
    path("events/<int:pk>/correct", views.event_correct_view, name="event-correct"),
    path("invoices/", views.invoice_list, name="invoice-list"),
    path("invoices/<path:invoice_id>/", views.invoice_detail, name="invoice-detail"),
]
