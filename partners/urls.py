"""Console pages of partners."""

from django.urls import path

from partners import views

app_name = "partners"
urlpatterns = [
    path("", views.partner_list, name="partner-list"),
    path("<int:pk>/", views.partner_detail, name="partner-detail"),
    path("agreements/<int:pk>/", views.agreement_detail, name="agreement-detail"),
    path(
        "agreements/<int:pk>/new-version",
        views.agreement_version_new,
        name="agreement-version-new",
    ),
    path("<int:pk>/attributions/new", views.attribution_new, name="attribution-new"),
    path("attributions/<int:pk>/edit", views.attribution_edit, name="attribution-edit"),
    path("accruals/", views.accrual_list, name="accrual-list"),
    path("settlements/", views.settlement_list, name="settlement-list"),
    path("settlements/<int:pk>/", views.settlement_detail, name="settlement-detail"),
    path("settlements/<int:pk>/calculate", views.settlement_calculate, name="settlement-calculate"),
    path("settlements/<int:pk>/submit", views.settlement_submit, name="settlement-submit"),
    path("settlements/<int:pk>/approve", views.settlement_approve, name="settlement-approve"),
    path("settlements/<int:pk>/reject", views.settlement_reject, name="settlement-reject"),
    path("settlements/<int:pk>/statement", views.statement_page, name="statement-page"),
    path("settlements/<int:pk>/statement.csv", views.statement_csv, name="statement-csv"),
    path("settlements/<int:pk>/statement.pdf", views.statement_pdf, name="statement-pdf"),
]
