"""Console pages of exceptions."""

from django.urls import path

from exceptions import views

app_name = "exceptions"
urlpatterns = [
    path("", views.case_list_view, name="case-list"),
    path("bulk", views.case_bulk_view, name="case-bulk"),
    path("filters", views.saved_filter_save_view, name="filter-save"),
    path("filters/<int:pk>/delete", views.saved_filter_delete_view, name="filter-delete"),
    path("<int:pk>/assign", views.case_assign_view, name="case-assign"),
    path("<int:pk>/", views.case_detail_view, name="case-detail"),
    path("<int:pk>/acknowledge", views.case_acknowledge_view, name="case-acknowledge"),
    path("<int:pk>/resolve", views.case_resolve_view, name="case-resolve"),
    path("<int:pk>/dismiss", views.case_dismiss_view, name="case-dismiss"),
    path("<int:pk>/comments", views.case_comment_view, name="case-comment"),
    path("<int:pk>/remediate", views.case_remediate_view, name="case-remediate"),
]
