"""Writes on users and API clients."""

import re

from django.db import transaction

from config.accounts.models import ALL_SOURCES, API_SCOPES, ApiClient, User
from config.errors import DomainError

SOURCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")


def api_client_create(
    *, name: str, scopes: list[str], sources: list[str] = (), throttle_rate: str = ""
) -> tuple[ApiClient, str]:
    """Create a client and its service user; return it with the plain token (shown once).

    `sources` are the event sources it may ingest and replay ("*" for all; none by default).
    Raises DomainError(code="unknown_scope") for a scope Concord does not define,
    DomainError(code="invalid_source") for a malformed source and
    DomainError(code="duplicate_client") when the name is taken.
    """
    unknown = sorted(set(scopes) - set(API_SCOPES))
    if unknown:
        raise DomainError(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(API_SCOPES))}",
            code="unknown_scope",
            field="scopes",
        )
    malformed = sorted(s for s in sources if s != ALL_SOURCES and not SOURCE_RE.fullmatch(s))
    if malformed:
        raise DomainError(
            f"invalid source name(s) {', '.join(map(repr, malformed))}",
            code="invalid_source",
            field="sources",
        )
    username = f"api:{name}"
    with transaction.atomic():
        if User.objects.filter(username=username).exists():
            raise DomainError(f"an API client named {name!r} exists", code="duplicate_client")
        user = User.objects.create(username=username, is_api_client=True)
        user.set_unusable_password()
        user.save(update_fields=["password"])
        client, token = ApiClient.objects.create_key(
            name=name,
            user=user,
            scopes=sorted(set(scopes)),
            sources=sorted(set(sources)),
            throttle_rate=throttle_rate,
        )
    return client, token


def api_client_revoke(*, client: ApiClient) -> ApiClient:
    """Revoke a client; its next request is refused. Idempotent."""
    if not client.revoked:
        client.revoked = True
        client.save(update_fields=["revoked"])
    return client
