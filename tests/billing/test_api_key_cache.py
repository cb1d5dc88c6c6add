"""The per-process cache of verified API keys (config/api/authentication.py).

A client verified once is not looked up again for CONCORD_API_KEY_CACHE_SECONDS; a revoked
client is refused at once by the process that revokes it and by any other process within
that time; an expired one at once; with 0 seconds every request checks the token.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from config.accounts.models import ApiClient
from config.accounts.services import api_client_create, api_client_revoke
from config.api import authentication
from config.api.authentication import verified_keys

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def empty_cache():
    verified_keys.clear()
    yield
    verified_keys.clear()


@pytest.fixture
def clock(monkeypatch):
    """A monotonic clock the test moves by hand."""
    now = [1000.0]
    monkeypatch.setattr(authentication.time, "monotonic", lambda: now[0])
    return now


def _bearer(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return api


def _client_queries(api: APIClient) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        status = api.get("/api/v1/events").status_code
    return status, sum('"accounts_apiclient"' in q["sql"] for q in queries)


def test_api_key_verified_once_is_not_looked_up_again_within_ttl(settings, clock):
    settings.CONCORD_API_KEY_CACHE_SECONDS = 5
    _, token = api_client_create(name="cached", scopes=["read"])
    api = _bearer(token)

    assert _client_queries(api) == (200, 1)
    clock[0] += 4.9
    assert _client_queries(api) == (200, 0)
    clock[0] += 0.2  # past the TTL: checked again
    assert _client_queries(api) == (200, 1)


def test_api_key_revoked_in_another_process_stops_working_within_ttl(settings, clock):
    settings.CONCORD_API_KEY_CACHE_SECONDS = 5
    client, token = api_client_create(name="leaked", scopes=["read"])
    api = _bearer(token)
    assert api.get("/api/v1/events").status_code == 200

    # Another process revokes it: a queryset update sends no signal to this process.
    ApiClient.objects.filter(pk=client.pk).update(revoked=True)
    clock[0] += 4.9
    assert api.get("/api/v1/events").status_code == 200  # still within the TTL
    clock[0] += 0.2
    response = api.get("/api/v1/events")

    assert response.status_code == 401
    assert "revoked" in response.json()["errors"][0]["message"]


def test_api_key_revoked_in_this_process_stops_working_at_once(settings, clock):
    settings.CONCORD_API_KEY_CACHE_SECONDS = 5
    client, token = api_client_create(name="leaked-here", scopes=["read"])
    api = _bearer(token)
    assert api.get("/api/v1/events").status_code == 200

    api_client_revoke(client=ApiClient.objects.get(pk=client.pk))

    assert api.get("/api/v1/events").status_code == 401


def test_api_key_expired_while_cached_is_refused_at_once(settings, clock):
    from datetime import timedelta

    from django.utils import timezone

    settings.CONCORD_API_KEY_CACHE_SECONDS = 5
    _, token = api_client_create(name="expiring", scopes=["read"])
    api = _bearer(token)
    assert api.get("/api/v1/events").status_code == 200

    # Expiry is checked on the cached client itself; moved here without a save signal.
    cached = verified_keys.get(next(iter(verified_keys._entries)))
    cached.expiry_date = timezone.now() - timedelta(seconds=1)
    response = api.get("/api/v1/events")

    assert response.status_code == 401
    assert "expired" in response.json()["errors"][0]["message"]


def test_api_key_cache_off_checks_every_request(settings, clock):
    settings.CONCORD_API_KEY_CACHE_SECONDS = 0
    client, token = api_client_create(name="uncached", scopes=["read"])
    api = _bearer(token)

    assert _client_queries(api) == (200, 1)
    assert _client_queries(api) == (200, 1)
    ApiClient.objects.filter(pk=client.pk).update(revoked=True)
    assert api.get("/api/v1/events").status_code == 401


def test_api_key_cache_is_keyed_by_a_hash_not_the_token(settings):
    settings.CONCORD_API_KEY_CACHE_SECONDS = 5
    _, token = api_client_create(name="hashed", scopes=["read"])
    assert _bearer(token).get("/api/v1/events").status_code == 200

    (key,) = verified_keys._entries
    assert token not in key and len(key) == 64


def test_wrong_token_is_refused_and_not_cached(settings):
    settings.CONCORD_API_KEY_CACHE_SECONDS = 5
    _, token = api_client_create(name="real", scopes=["read"])
    wrong = token[:-2] + ("aa" if not token.endswith("aa") else "bb")

    assert _bearer(wrong).get("/api/v1/events").status_code == 401
    assert not verified_keys._entries
