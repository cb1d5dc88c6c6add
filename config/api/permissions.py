"""One permission class for every endpoint: a Django permission for people, a scope for clients.

A view says what each action needs in `required_permissions`, a dict from action name to
(permission code, API scope). Without an entry, safe methods need "<app>.view_<model>" of
the queryset's model and the `read` scope; anything else is refused. So an endpoint that
forgets to declare a write is closed, not open.
"""

from collections.abc import Iterable

from rest_framework import exceptions
from rest_framework.permissions import SAFE_METHODS, BasePermission

from config.accounts.models import ALL_SOURCES, ApiClient


def requirement(view, request) -> tuple[str | None, str | None]:
    action = getattr(view, "action", None) or request.method.lower()
    declared = getattr(view, "required_permissions", {})
    if action in declared:
        return declared[action]
    if request.method in SAFE_METHODS:
        queryset = getattr(view, "queryset", None)
        if queryset is None and hasattr(view, "get_queryset"):
            queryset = view.get_queryset()
        if queryset is not None:
            meta = queryset.model._meta
            return f"{meta.app_label}.view_{meta.model_name}", "read"
    return None, None


class RolePermission(BasePermission):
    message = "you do not have permission for this action"

    def has_permission(self, request, view) -> bool:
        permission, scope = requirement(view, request)
        if permission is None and scope is None:
            return False
        if isinstance(request.auth, ApiClient):
            return scope is not None and request.auth.has_scope(scope)
        user = request.user
        if not (user and user.is_authenticated) or user.is_api_client:
            return False
        return permission is not None and user.has_perm(permission)


def allowed_sources(request) -> list[str] | None:
    """The event sources the caller may write; None for all (people and "*" clients)."""
    client = request.auth
    if not isinstance(client, ApiClient) or client.allows_source(ALL_SOURCES):
        return None
    return list(client.sources)


def check_sources(request, sources: Iterable) -> None:
    """Refuse (403, naming them) the event sources an API client is not bound to.

    A missing source (None) is left to the schema, which answers 400.
    """
    client = request.auth
    if not isinstance(client, ApiClient):
        return
    refused = sorted(
        {str(s) for s in sources if s is not None and not client.allows_source(str(s))}
    )
    if refused:
        raise exceptions.PermissionDenied(
            f"this API client may not write events of source {', '.join(map(repr, refused))}"
        )


def may_read(request, permission: str) -> bool:
    """May the caller also read? The `read` scope for a client, `permission` for a person."""
    if isinstance(request.auth, ApiClient):
        return request.auth.has_scope("read")
    return request.user.has_perm(permission)
