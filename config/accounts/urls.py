from django.urls import path

from config.accounts import views

app_name = "accounts"
urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password-change"),
    path("two-factor/", views.OtpVerifyView.as_view(), name="otp-verify"),
    path("security-events/", views.security_event_list_view, name="security-event-list"),
    path("audit-log/", views.audit_log_view, name="audit-log"),
    path("two-factor/setup/", views.OtpSetupView.as_view(), name="otp-setup"),
]
