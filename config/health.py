"""Probes and metrics.

`/healthz` is liveness: the process answers, nothing else is checked or said. `/readyz`
checks the database and the broker and answers 503 naming the failing dependency; what went
wrong is logged, never put in the body (an exception text can carry hosts, ports, users).
`/metrics` (django-prometheus) answers only a bearer metrics token or an allowed address.
"""

import hmac
import ipaddress
import logging

from django.conf import settings
from django.db import connections
from django.http import HttpResponseForbidden, JsonResponse
from django_prometheus.exports import ExportToDjangoView

logger = logging.getLogger("concord.health")


def _check_database() -> bool:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # any failure means not ready; the details go to the log only
        logger.warning("readiness: database unreachable", exc_info=True)
        return False
    return True


def _check_broker() -> bool | None:
    """True/False for a Redis broker; None when there is no broker (eager mode)."""
    broker_url = settings.CELERY_BROKER_URL or ""
    if not broker_url.startswith(("redis://", "rediss://")):
        return None
    import redis

    try:
        client = redis.Redis.from_url(broker_url, socket_timeout=2, socket_connect_timeout=2)
        client.ping()
    except Exception:
        logger.warning("readiness: broker unreachable", exc_info=True)
        return False
    return True


def healthz(request):
    """Liveness: 200 while the process serves requests; no dependency is touched."""
    return JsonResponse({"status": "ok"})


def readyz(request):
    """Readiness: 200 when the database and the broker answer, else 503 naming the failing."""
    database, broker = _check_database(), _check_broker()
    checks = {
        "database": "ok" if database else "unavailable",
        "broker": "eager" if broker is None else ("ok" if broker else "unavailable"),
    }
    failing = [name for name, state in checks.items() if state == "unavailable"]
    body = {"status": "unavailable" if failing else "ok", "failing": failing, "checks": checks}
    return JsonResponse(body, status=503 if failing else 200)


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for allowed in settings.CONCORD_METRICS_ALLOWED_IPS:
        try:
            if ip in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            logger.error("CONCORD_METRICS_ALLOWED_IPS holds an invalid entry %r", allowed)
    return False


def _token_matches(request) -> bool:
    expected = settings.CONCORD_METRICS_TOKEN
    keyword, _, token = request.headers.get("Authorization", "").partition(" ")
    if not expected or keyword != "Bearer" or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def metrics(request):
    """Prometheus exposition for a scraper holding the token or calling from an allowed address.

    REMOTE_ADDR is the peer address; a proxy in front must not be on the allowed list.
    """
    if not (_token_matches(request) or _address_allowed(request.META.get("REMOTE_ADDR", ""))):
        return HttpResponseForbidden("metrics need a token or an allowed address")
    return ExportToDjangoView(request)
