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


def _pinned(monkeypatch, seconds: float) -> list[float]:
    """Pin the throttle's clock at `seconds`; returns the list to move it."""
    from config.api.throttling import ApiClientRateThrottle

    clock = [seconds]
    monkeypatch.setattr(ApiClientRateThrottle, "timer", staticmethod(lambda: clock[0]))
    return clock


def test_the_last_window_still_counts_as_it_slides_out(api_with_scopes, monkeypatch):
    """A sliding window: a client that used its whole rate just before a window boundary is
    not given a fresh one just after it; the last window's requests count by the share of it
    still inside the sliding minute."""
    clock = _pinned(monkeypatch, 6_000_059.0)  # one second before a minute's boundary
    api = api_with_scopes("read", rate="4/min")
    assert [api.get("/api/v1/probe/").status_code for _ in range(4)] == [200] * 4

    clock[0] = 6_000_061.0  # 1 s into the next minute: 4 * 59/60 = 3.93 still count
    assert api.get("/api/v1/probe/").status_code == 200  # 3.93 < 4
    refused = api.get("/api/v1/probe/")  # 3.93 + 1 >= 4
    assert refused.status_code == 429
    # Room again once 4 * (60 - t)/60 + 1 < 4: t > 15 s, 14 s from now.
    assert int(refused["Retry-After"]) == 14

    clock[0] = 6_000_076.5  # 16.5 s in: 4 * 43.5/60 + 1 = 3.9
    assert api.get("/api/v1/probe/").status_code == 200
    assert api.get("/api/v1/probe/").status_code == 429  # 4.9


def test_a_full_window_frees_up_as_it_slides_out(api_with_scopes, monkeypatch):
    clock = _pinned(monkeypatch, 6_000_000.0)
    api = api_with_scopes("read", rate="2/min")
    assert [api.get("/api/v1/probe/").status_code for _ in range(3)] == [200, 200, 429]

    clock[0] = 6_000_150.0  # two windows later: nothing counts
    assert api.get("/api/v1/probe/").status_code == 200
