"""Console pages of erp_sync."""

from django.urls import path

from erp_sync import views

app_name = "erp_sync"
# --- rules and connections ---
urlpatterns: list = [
    path("rules/", views.rule_list_view, name="rule-list"),
    path("rules/new", views.rule_create_view, name="rule-create"),
    path("rules/preview", views.rule_preview_view, name="rule-preview"),
    path("rules/<int:pk>/", views.rule_edit_view, name="rule-edit"),
    path("rules/<int:pk>/deactivate", views.rule_deactivate_view, name="rule-deactivate"),
    path("connections/", views.connection_list_view, name="connection-list"),
    path("connections/new", views.connection_create_view, name="connection-create"),
    path("connections/<int:pk>/", views.connection_detail_view, name="connection-detail"),
    path("connections/<int:pk>/edit", views.connection_edit_view, name="connection-edit"),
    path("connections/<int:pk>/health", views.connection_health_view, name="connection-health"),
    path("connections/<int:pk>/pause", views.connection_pause_view, name="connection-pause"),
    path("connections/<int:pk>/resume", views.connection_resume_view, name="connection-resume"),
    path(
        "connections/<int:pk>/windows",
        views.connection_window_add_view,
        name="connection-window-add",
    ),
    path(
        "connections/<int:pk>/windows/<int:window_pk>/remove",
        views.connection_window_remove_view,
        name="connection-window-remove",
    ),
]
# --- end rules and connections ---

# --- sync jobs (job engine) ---
from erp_sync import job_views  # noqa: E402

urlpatterns += [
    path("jobs/", job_views.job_list_view, name="job-list"),
    path("jobs/bulk", job_views.job_bulk_view, name="job-bulk"),
    path("jobs/bulk/<int:pk>/", job_views.job_bulk_detail_view, name="job-bulk-detail"),
    path(
        "jobs/bulk/<int:pk>/progress",
        job_views.job_bulk_progress_view,
        name="job-bulk-progress",
    ),
    path("jobs/<int:pk>/", job_views.job_detail_view, name="job-detail"),
    path("jobs/<int:pk>/replay", job_views.job_replay_view, name="job-replay"),
    path("jobs/<int:pk>/cancel", job_views.job_cancel_view, name="job-cancel"),
]
# --- end sync jobs ---

# --- lineage and rule versions (console-wide) ---
from erp_sync import console_views  # noqa: E402

urlpatterns += [
    path("lineage/", console_views.lineage_view, name="lineage"),
    path("rules/<int:pk>/versions", console_views.rule_detail_view, name="rule-detail"),
]

# --- guided fixes of cases ---
from erp_sync import guide_views  # noqa: E402

urlpatterns += [
    path("rules/preview-draft", guide_views.rule_draft_preview_view, name="rule-draft-preview"),
    path("cases/<int:pk>/replay", guide_views.case_jobs_replay_view, name="case-jobs-replay"),
]

# --- closed-period case guide ---
from erp_sync import period_views  # noqa: E402

urlpatterns += [
    path(
        "closed-periods/<int:pk>/post-next-open",
        period_views.closed_period_post_view,
        name="closed-period-post",
    ),
    path(
        "closed-periods/<int:pk>/wait",
        period_views.closed_period_wait_view,
        name="closed-period-wait",
    ),
]
