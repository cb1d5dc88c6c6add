import pytest
from django.core.cache import cache

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.foundation.probe_urls")]


@pytest.fixture(autouse=True)
def empty_throttle_buckets():
    cache.clear()
    yield
    cache.clear()


def test_client_over_its_rate_gets_429_with_retry_after(api_with_scopes):
    api = api_with_scopes("read", rate="2/min")

    statuses = [api.get("/api/v1/probe/").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]
    response = api.get("/api/v1/probe/")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 60
    assert response.json()["errors"][0]["code"] == "throttled"


def test_two_clients_have_separate_buckets(api_with_scopes):
    first = api_with_scopes("read", rate="1/min")
    second = api_with_scopes("read", rate="1/min")

    assert first.get("/api/v1/probe/").status_code == 200
    assert first.get("/api/v1/probe/").status_code == 429
    assert second.get("/api/v1/probe/").status_code == 200
