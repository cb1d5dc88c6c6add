"""One error shape for every 4xx: {"errors": [{"field": ..., "code": ..., "message": ...}]}.

Nested validation details are flattened into field paths such as `data.lines[0].amount`.
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import DomainError


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


def exception_handler(exc, context):
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
