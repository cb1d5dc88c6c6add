"""/healthz: 200 when the database and the broker answer, else 503 naming the failing part."""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as error:  # any failure means unhealthy; say which
        return f"{type(error).__name__}: {error}"
    return None


def _check_broker() -> str | None:
    if not settings.REDIS_URL:
        return None  # eager mode: there is no broker to reach
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    return None


def healthz(request):
    checks = {"database": _check_database(), "broker": _check_broker()}
    failing = {name: message for name, message in checks.items() if message}
    body = {
        "status": "ok" if not failing else "unhealthy",
        "checks": {name: (message or "ok") for name, message in checks.items()},
        "broker": "redis" if settings.REDIS_URL else "eager",
    }
    return JsonResponse(body, status=503 if failing else 200)
