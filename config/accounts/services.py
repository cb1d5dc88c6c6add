"""Writes on users and API clients."""

from django.db import transaction

from config.accounts.models import API_SCOPES, ApiClient, User
from config.errors import DomainError


def api_client_create(
    *, name: str, scopes: list[str], throttle_rate: str = ""
) -> tuple[ApiClient, str]:
    """Create a client and its service user; return it with the plain token (shown once).

    Raises DomainError(code="unknown_scope") for a scope Concord does not define and
    DomainError(code="duplicate_client") when the name is taken.
    """
    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown:
        raise DomainError(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(API_SCOPES))}",
            code="unknown_scope",
            field="scopes",
        )
    username = f"api:{name}"
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise DomainError(f"an API client named {name!r} exists", code="duplicate_client")
        user = User.objects.create(username=username, is_api_client=True)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        client, token = ApiClient.objects.create_key(
            name=name, user=user, scopes=sorted(set(scopes)), throttle_rate=throttle_rate
        )
    return client, token


def api_client_revoke(*, client: ApiClient) -> ApiClient:
    """Revoke a client; its next request is refused. Idempotent."""
    if not client.revoked:
        client.revoked = True
        client.save(update_fields=["revoked"])
    return client
