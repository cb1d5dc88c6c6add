import zoneinfo
from urllib.parse import urlencode

from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from config.correlation import clean_correlation_id, reset_correlation_id, set_correlation_id

HEADER = "X-Correlation-ID"


class CorrelationIdMiddleware:
    """Accept or generate `X-Correlation-ID`; expose it as request.correlation_id; echo it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        correlation_id = clean_correlation_id(request.headers.get(HEADER))
        request.correlation_id = correlation_id
        token = set_correlation_id(correlation_id)
        try:
            response = self.get_response(request)
        finally:
            reset_correlation_id(token)
        response[HEADER] = correlation_id
        return response


class UserTimeZoneMiddleware:
    """Shows times in the signed-in person's time zone (User.time_zone; blank or unknown:
    settings.TIME_ZONE). After AuthenticationMiddleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(("/api/", "/static/")):
            return self.get_response(request)  # no pages there; the user may not be read
        name = getattr(getattr(request, "user", None), "time_zone", "") or ""
        try:
            zone = zoneinfo.ZoneInfo(name) if name else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            zone = None
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


class TwoFactorMiddleware:
    """Sends a signed-in person who still owes a second factor to verify or enrol first.

    Only the sign-in, sign-out and two-factor pages (and the probes) are reachable before;
    a session call to the API answers 403 instead of a redirect. Bearer-token API clients
    have no session and are not concerned.
    """

    OPEN_URL_NAMES = (
        "accounts:login",
        "accounts:logout",
        "accounts:otp-verify",
        "accounts:otp-setup",
    )
    OPEN_PREFIXES = ("/static/", "/healthz", "/readyz", "/metrics")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from config.accounts.two_factor import two_factor_step

        step = two_factor_step(request.user)
        if step is None or self._open(request.path):
            return self.get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"errors": [{"field": None, "code": "two_factor_required",
                             "message": "sign in with your second factor first"}]},
                status=403,
            )  # fmt: skip
        target = reverse(f"accounts:otp-{step}")
        return redirect(f"{target}?{urlencode({'next': request.get_full_path()})}")

    def _open(self, path: str) -> bool:
        if path.startswith(self.OPEN_PREFIXES):
            return True
        return path in {reverse(name) for name in self.OPEN_URL_NAMES}


class SecurityAuditMiddleware:
    """Records every 403 answer (console, API, CSRF, two-factor) as a security event."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            from config.accounts.audit import security_event_record
            from config.accounts.models import SecurityEventKind

            security_event_record(
                kind=SecurityEventKind.PERMISSION_DENIED, request=request, detail={"status": 403}
            )
        return response


class RefuseNulMiddleware:
    """Answers 400 for a query string with a NUL character, before any view reads it.

    PostgreSQL refuses NUL in text, so a filter value carrying one would end as a 500 deep
    inside a query (found by the API fuzzing). The API answers the error shape; the console
    a plain 400.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        bad = next(
            (k for k, v in request.GET.lists() if "\x00" in k or any("\x00" in x for x in v)), None
        )
        if bad is None:
            return self.get_response(request)
        message = f"query parameter {bad.replace(chr(0), '')!r} contains a NUL character"
        if request.path.startswith("/api/"):
            return JsonResponse(
                {
                    "errors": [
                        {"field": bad.replace("\x00", ""), "code": "invalid", "message": message}
                    ]
                },
                status=400,
            )
        return HttpResponseBadRequest(message)


class DatabaseUnavailableMiddleware:
    """A view the database failed (down, restarting, connection dropped) answers 503 with a
    clear message instead of a 500: the API's error shape under /api/, a plain page in the
    console. DRF views get the same answer from the API exception handler; errors raised
    outside views get it from handler500 (config.api.errors.server_error)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        from config.api.errors import DATABASE_ERRORS, database_unavailable

        if isinstance(exception, DATABASE_ERRORS):
            return database_unavailable(request, exception)
        return None
