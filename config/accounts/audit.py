"""Security events: one structured log line and one append-only SecurityEvent row each.

Recorded: sign-in success and failure, lock-outs (django-axes), API client creation and
revocation, role (group membership) and permission changes, and every 403 answer. The
receivers are connected in AccountsConfig.ready(); the 403s come from
config.middleware.SecurityAuditMiddleware.
"""

import logging

from django.db import DatabaseError, transaction
from simple_history.models import HistoricalRecords

from config.accounts.models import SecurityEvent, SecurityEventKind
from config.correlation import get_correlation_id

logger = logging.getLogger("concord.security")
_WARNINGS = {
    SecurityEventKind.SIGNIN_FAILED,
    SecurityEventKind.LOCKED_OUT,
    SecurityEventKind.PERMISSION_DENIED,
}


def _current_request():
    return getattr(HistoricalRecords.context, "request", None)


def _client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def security_event_record(
    *, kind: str, user=None, username: str = "", request=None, detail: dict | None = None
) -> SecurityEvent | None:
    """Log the event as a JSON line and store it; a failing store never breaks the caller."""
    request = request if request is not None else _current_request()
    if user is None and request is not None:
        candidate = getattr(request, "user", None)
        user = candidate if candidate is not None and candidate.is_authenticated else None
    if user is not None and not username:
        username = user.get_username()
    fields = {
        "kind": kind,
        "username": username[:150],
        "ip_address": _client_ip(request),
        "method": (request.method or "") if request is not None else "",
        "path": (request.path or "")[:500] if request is not None else "",
        "correlation_id": get_correlation_id() or "",
        "detail": detail or {},
    }
    level = logging.WARNING if kind in _WARNINGS else logging.INFO
    logger.log(level, "security event %s", kind, extra={"security_event": fields})
    try:
        with transaction.atomic():  # a savepoint: a failed insert leaves the caller's work
            return SecurityEvent.objects.create(user=user, **fields)
    except DatabaseError:
        logger.exception("security event %s could not be stored", kind)
        return None


# --- signal receivers ----------------------------------------------------------------------


def on_user_logged_in(sender, request, user, **kwargs):
    security_event_record(kind=SecurityEventKind.SIGNIN_SUCCEEDED, user=user, request=request)


def on_user_login_failed(sender, credentials, request=None, **kwargs):
    username = str(credentials.get("username", ""))
    security_event_record(kind=SecurityEventKind.SIGNIN_FAILED, username=username, request=request)


def on_user_locked_out(sender, request, username, ip_address, **kwargs):
    security_event_record(
        kind=SecurityEventKind.LOCKED_OUT,
        username=str(username or ""),
        request=request,
        detail={"ip_address": ip_address},
    )


def on_api_client_saved(sender, instance, created, **kwargs):
    if kwargs.get("raw"):
        return
    detail = {"client": instance.name, "scopes": instance.scopes, "sources": instance.sources}
    if created:
        security_event_record(kind=SecurityEventKind.API_CLIENT_CREATED, detail=detail)
    elif getattr(instance, "_revoked_now", False):
        security_event_record(kind=SecurityEventKind.API_CLIENT_REVOKED, detail=detail)


def on_api_client_saving(sender, instance, **kwargs):
    """Notes whether this save revokes the client (revoked False in the database, True now)."""
    instance._revoked_now = bool(
        instance.revoked
        and instance.pk is not None
        and sender.objects.filter(pk=instance.pk, revoked=False).exists()
    )


def on_user_groups_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    names = sorted(
        model.objects.filter(pk__in=pk_set or ()).values_list(_name_field(model), flat=True)
    )
    subject = "group" if reverse else "user"
    detail = {
        "action": action.removeprefix("post_"),
        subject: str(instance),
        "users" if reverse else "roles": names,
    }
    security_event_record(kind=SecurityEventKind.ROLES_CHANGED, user=None, detail=detail)


def on_permissions_changed(sender, instance, action, reverse, model, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if reverse:
        holders = sorted(str(o) for o in model.objects.filter(pk__in=pk_set or ()))
        detail = {
            "action": action.removeprefix("post_"),
            "permission": str(instance),
            "holders": holders,
        }
    else:
        codes = sorted(
            f"{p.content_type.app_label}.{p.codename}"
            for p in model.objects.filter(pk__in=pk_set or ()).select_related("content_type")
        )
        detail = {
            "action": action.removeprefix("post_"),
            "holder": str(instance),
            "permissions": codes,
        }
    security_event_record(kind=SecurityEventKind.PERMISSIONS_CHANGED, detail=detail)


def _name_field(model) -> str:
    return "username" if hasattr(model, "USERNAME_FIELD") else "name"
