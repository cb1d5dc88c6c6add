"""`Authorization: Bearer <token>` for API clients (tokens stored hashed).

Checking a token costs two queries (the client, its user) and a slow hash by design
(djangorestframework-api-key): 16% of a one-event ingest request on the ingest_single
benchmark. A client verified once is therefore remembered per process for
`settings.CONCORD_API_KEY_CACHE_SECONDS` (0: never), keyed by a SHA-256 of the presented
token, never the token itself. Expiry is checked on every request; a revoked client is
refused at once by the process that revokes it (a save of the client empties its entries)
and by every other process within the TTL (docs/decisions.md).
"""

import hashlib
import threading
import time

from django.conf import settings
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from config.accounts.models import ApiClient

# Past this many verified tokens the cache starts again empty (a bound, not an LRU).
CACHE_MAX_ENTRIES = 1024


class VerifiedKeyCache:
    """sha256(token) -> (monotonic deadline, client with its user loaded), per process."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[float, ApiClient]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def ttl() -> float:
        return float(getattr(settings, "CONCORD_API_KEY_CACHE_SECONDS", 0))

    def get(self, digest: str) -> ApiClient | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        deadline, client = entry
        if time.monotonic() >= deadline:
            with self._lock:
                self._entries.pop(digest, None)
            return None
        return client

    def put(self, digest: str, client: ApiClient) -> None:
        ttl = self.ttl()
        if ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= CACHE_MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (time.monotonic() + ttl, client)

    def forget_client(self, pk) -> None:
        with self._lock:
            for digest in [d for d, (_, c) in self._entries.items() if c.pk == pk]:
                del self._entries[digest]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


verified_keys = VerifiedKeyCache()


@receiver(post_save, sender=ApiClient, dispatch_uid="api_key_cache_forget_saved")
@receiver(post_delete, sender=ApiClient, dispatch_uid="api_key_cache_forget_deleted")
def _forget_changed_client(sender, instance, **kwargs):
    """A revoked, re-scoped or deleted client is not served from this process's cache."""
    verified_keys.forget_client(instance.pk)


class ApiClientAuthentication(authentication.BaseAuthentication):
    """Authenticates a machine client; request.user is its service user, request.auth the client."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        keyword, _, token = header.partition(" ")
        if keyword != self.keyword:
            return None
        token = token.strip()
        if not token:
            raise exceptions.AuthenticationFailed("empty bearer token")
        digest = hashlib.sha256(token.encode()).hexdigest()
        client = verified_keys.get(digest)
        if client is None:
            try:
                client = ApiClient.objects.get_from_key(token)
            except ApiClient.DoesNotExist:
                raise exceptions.AuthenticationFailed("invalid or revoked API token") from None
            client.user  # noqa: B018 (load the service user now: the cached client keeps it)
            verified_keys.put(digest, client)
        if client.has_expired:
            raise exceptions.AuthenticationFailed("expired API token")
        return client.user, client

    def authenticate_header(self, request):
        return self.keyword


class ApiClientAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the bearer token in the OpenAPI schema."""

    target_class = ApiClientAuthentication
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API client token from `manage.py create_api_client`.",
        }
