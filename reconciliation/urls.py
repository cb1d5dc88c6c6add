"""Console pages of reconciliation."""

from django.urls import path

from reconciliation import report_views, views

app_name = "reconciliation"
urlpatterns: list = [
    path("runs/", views.run_list_view, name="run-list"),
    path("runs/start", views.run_start_view, name="run-start"),
    path("runs/<int:pk>/", views.run_detail_view, name="run-detail"),
    path("runs/<int:pk>/progress", views.run_progress_view, name="run-progress"),
    path("runs/<int:pk>/breaks", views.run_breaks_view, name="run-breaks"),
    path("runs/<int:pk>/breaks.csv", views.run_break_export_view, name="run-break-export"),
    path("runs/<int:pk>/matches", views.run_matches_view, name="run-matches"),
    path("runs/<int:pk>/matches/decide", views.run_matches_decide_view, name="run-matches-decide"),
    path("breaks/", views.break_list_view, name="break-list"),
    path("breaks.csv", views.break_export_view, name="break-export"),
    path("breaks/<int:pk>/", views.break_detail_view, name="break-detail"),
    path("breaks/<int:pk>/accept", views.break_accept_view, name="break-accept"),
    path("breaks/<int:pk>/replay", views.break_replay_view, name="break-replay"),
    path("kpis/", report_views.kpi_view, name="kpis"),
    path("kpis/panel", report_views.kpi_panel_view, name="kpi-panel"),
    path("dashboard/figures", report_views.dashboard_view, name="dashboard"),
    path("close/", report_views.close_checklist_view, name="close-checklist"),
]
