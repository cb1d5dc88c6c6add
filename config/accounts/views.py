from base64 import b32encode
from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.http import require_GET
from django_otp import login as otp_login
from django_otp import match_token

from config.accounts import audit_log
from config.accounts.filters import SecurityEventFilterSet
from config.accounts.selectors import security_event_list
from config.accounts.two_factor import totp_device_confirm, totp_device_pending
from config.console import filtered_page


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    """Change one's password; Django's password validators (settings) judge the new one."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("console-home")

    def form_valid(self, form):
        messages.success(self.request, "Your password was changed.")
        return super().form_valid(form)


class TokenForm(forms.Form):
    token = forms.CharField(max_length=16, strip=True, label="Code from your authenticator app")


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return str(reverse_lazy("console-home"))


class OtpVerifyView(LoginRequiredMixin, View):
    """Second step of sign-in: a code from the enrolled authenticator app."""

    template_name = "accounts/otp_verify.html"

    def get(self, request):
        return render(
            request, self.template_name, {"form": TokenForm(), "next": _next_url(request)}
        )

    def post(self, request):
        form = TokenForm(request.POST)
        device = match_token(request.user, form.data.get("token", "")) if form.is_valid() else None
        if device is None:
            form.add_error("token", "That code is not valid; try the current one.")
            context = {"form": form, "next": _next_url(request)}
            return render(request, self.template_name, context, status=400)
        otp_login(request, device)
        return redirect(_next_url(request))


class OtpSetupView(LoginRequiredMixin, View):
    """Enrol an authenticator app: show the key, confirm with a first code."""

    template_name = "accounts/otp_setup.html"

    def _context(self, request, form):
        device = totp_device_pending(user=request.user)
        secret = b32encode(device.bin_key).decode()
        return {
            "form": form,
            "secret": " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
            "config_url": device.config_url,
            "next": _next_url(request),
        }

    def get(self, request):
        return render(request, self.template_name, self._context(request, TokenForm()))

    def post(self, request):
        form = TokenForm(request.POST)
        device = totp_device_pending(user=request.user)
        if not (
            form.is_valid() and totp_device_confirm(device=device, token=form.cleaned_data["token"])
        ):
            form.add_error("token", "That code is not valid; check the app's clock and try again.")
            return render(request, self.template_name, self._context(request, form), status=400)
        otp_login(request, device)
        messages.success(request, "Two-factor sign-in is on for your account.")
        return redirect(_next_url(request))


@permission_required("accounts.view_securityevent", raise_exception=True)
def security_event_list_view(request):
    """Sign-ins, lock-outs, API clients, role changes and refusals, newest first (read-only)."""
    context = filtered_page(request, SecurityEventFilterSet, security_event_list())
    return render(request, "accounts/security_event_list.html", context)


class AuditLogFilterForm(forms.Form):
    """The audit log's filter bar: actor, model, record and date range (all optional)."""

    actor = forms.CharField(required=False, max_length=150, label="Who (username)")
    model = forms.ChoiceField(required=False, label="What", choices=())
    record = forms.CharField(required=False, max_length=200, label="Record id")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To (inclusive)", widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "Everything"), *audit_log.model_choices()]

    def audit_filters(self) -> dict:
        """The filters for audit_log_page; an unknown actor matches nobody."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        filters: dict = {"model": data["model"], "record": data["record"].strip()}
        if data["actor"].strip():
            users = get_user_model().objects.filter(username=data["actor"].strip())
            filters["actor"] = list(users.values_list("pk", flat=True))
        zone = timezone.get_current_timezone()
        if data["since"]:
            filters["since"] = datetime.combine(data["since"], time.min, tzinfo=zone)
        if data["until"]:
            filters["until"] = datetime.combine(data["until"], time.min, tzinfo=zone) + timedelta(
                days=1
            )
        return filters


@require_GET
@login_required
@permission_required("accounts.view_securityevent", raise_exception=True)
def audit_log_view(request):
    """Every recorded change (history of all audited records) and security event, newest
    first, keyset-paged, read-only."""
    form = AuditLogFilterForm(request.GET or None)
    filters = form.audit_filters() if request.GET else {}
    rows, next_cursor = audit_log.audit_log_page(
        filters=filters, cursor=request.GET.get("after", "")
    )
    query = request.GET.copy()
    query.pop("after", None)
    context = {
        "form": form,
        "rows": rows,
        "next_cursor": next_cursor,
        "query": query.urlencode(),
        "is_first": not request.GET.get("after"),
    }
    return render(request, "accounts/audit_log.html", context)
