"""One error shape for every 4xx: {"errors": [{"field": ..., "code": ..., "message": ...}]}.

Nested validation details are flattened into field paths such as `data.lines[0].amount`.
"""

import logging
import sys

from django.core.exceptions import PermissionDenied
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError

logger = logging.getLogger("concord.errors")

# The database could not be reached or dropped the connection (a restart, a failover, too
# many clients): the request did nothing, and the same request later may well succeed.
DATABASE_ERRORS = (OperationalError, InterfaceError)
DATABASE_RETRY_AFTER = "5"
DATABASE_UNAVAILABLE = "The database is unavailable; nothing was stored. Retry in a few seconds."
DATABASE_UNAVAILABLE_PAGE = (
    "<!doctype html><title>Concord: try again in a moment</title>"
    "<h1>Concord cannot reach its database right now</h1>"
    "<p>Nothing you sent was saved. Try again in a few seconds.</p>"
)


def error(field: str | None, code: str, message: str) -> dict:
    return {"field": field, "code": code, "message": message}


def error_response(errors: list[dict], status_code: int, headers=None) -> Response:
    return Response({"errors": errors}, status=status_code, headers=headers)


def flatten(detail, path: str = "") -> list[dict]:
    """Turn DRF's nested ErrorDetail structure into a flat list with dotted/indexed paths."""
    if isinstance(detail, dict):
        out = []
        for key, value in detail.items():
            if key == "non_field_errors":
                child = path
            elif isinstance(key, int):
                child = f"{path}[{key}]"
            else:
                child = f"{path}.{key}" if path else str(key)
            out.extend(flatten(value, child))
        return out
    if isinstance(detail, list):
        if all(isinstance(item, str) for item in detail):
            return [
                error(path or None, getattr(item, "code", "invalid"), str(item)) for item in detail
            ]
        out = []
        for index, item in enumerate(detail):
            if item:
                out.extend(flatten(item, f"{path}[{index}]"))
        return out
    return [error(path or None, getattr(detail, "code", "invalid"), str(detail))]


def database_unavailable(request, exc: BaseException) -> HttpResponse:
    """503 for a request the database failed: the API's error shape under /api/, a plain page
    elsewhere (no template: its context processors would query the database again). The
    error goes to the log, never into the answer."""
    logger.warning(
        "database unavailable: %s %s answered 503 (%s)",
        request.method,
        request.path,
        type(exc).__name__,
        exc_info=exc,
    )
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {"errors": [error(None, "database_unavailable", DATABASE_UNAVAILABLE)]}, status=503
        )
    else:
        response = HttpResponse(DATABASE_UNAVAILABLE_PAGE, status=503)
    response["Retry-After"] = DATABASE_RETRY_AFTER
    return response


def exception_handler(exc, context):
    if isinstance(exc, DATABASE_ERRORS):
        logger.warning("database unavailable: API answered 503", exc_info=exc)
        return error_response(
            [error(None, "database_unavailable", DATABASE_UNAVAILABLE)],
            status.HTTP_503_SERVICE_UNAVAILABLE,
            {"Retry-After": DATABASE_RETRY_AFTER},
        )
    if isinstance(exc, DomainError):
        return error_response([error(exc.field, exc.code, exc.message)], exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        errors = flatten(exc.detail)
    else:
        errors = [error(None, getattr(exc.detail, "code", exc.default_code), str(exc.detail))]
    headers = {k: v for k, v in response.items() if k in ("Retry-After", "WWW-Authenticate")}
    if isinstance(exc, exceptions.Throttled) and "Retry-After" not in headers and exc.wait:
        headers["Retry-After"] = str(int(exc.wait) + 1)
    code = response.status_code
    if code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in headers:
        headers["WWW-Authenticate"] = "Bearer"
    return error_response(errors, code, headers)


def not_found(request, exception=None):
    """handler404: under /api/ a path that matches no route answers the error shape too."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found

    if request.path.startswith("/api/"):
        body = {"errors": [error(None, "not_found", "Not found.")]}
        return JsonResponse(body, status=status.HTTP_404_NOT_FOUND)
    return page_not_found(request, exception)


def server_error(request):
    """handler500: an error the database caused anywhere (a middleware, a template) is a
    503 saying so (see `database_unavailable`); anything else is Django's plain 500 page."""
    from django.views.defaults import server_error as django_server_error

    exc = sys.exc_info()[1]
    if isinstance(exc, DATABASE_ERRORS):
        return database_unavailable(request, exc)
    return django_server_error(request)
