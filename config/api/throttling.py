"""Throttling per API client: each client has its own bucket and may have its own rate.

A sliding-window counter, O(1) a request: two counters per client in the cache (this
window's and the last one's), the last one weighted by how much of it still falls in the
sliding window. DRF's SimpleRateThrottle keeps every request's timestamp in one cache entry,
read, unpickled, rewritten and pickled again on every request: at 400 requests a second and a
high rate that is a list of 24,000 timestamps a request (measured on ingest_single,
2026-12-08: the throttle's cost grew with the run's length). With the Redis cache the
counters are shared by every web process; the increments are atomic (`add` then `incr`).
"""

import math
import time
from functools import cache as memoise

from django.core.cache import cache
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from config.accounts.models import ApiClient

SCOPE = "api_client"
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@memoise
def parse_rate(rate: str) -> tuple[int, int]:
    """'600/min' -> (600, 60): DRF's notation (the period's first letter: s, m, h or d)."""
    number, period = rate.split("/")
    return int(number), PERIODS[period[0]]


class ApiClientRateThrottle(BaseThrottle):
    timer = staticmethod(time.time)

    def allow_request(self, request, view) -> bool:
        client = request.auth
        if not isinstance(client, ApiClient):
            return True  # people in the console are not throttled here
        rate = client.throttle_rate or api_settings.DEFAULT_THROTTLE_RATES[SCOPE]
        limit, period = parse_rate(rate)
        now = self.timer()
        window, offset = divmod(now, period)
        key = f"throttle:{SCOPE}:{client.pk}:{int(window)}"
        last_key = f"throttle:{SCOPE}:{client.pk}:{int(window) - 1}"
        counts = cache.get_many([key, last_key])
        current, last = counts.get(key, 0), counts.get(last_key, 0)
        last_weight = (period - offset) / period
        if last * last_weight + current >= limit:
            self._wait = _wait(limit, period, offset, current, last)
            return False
        if not cache.add(key, 1, timeout=2 * period):
            try:
                cache.incr(key)
            except ValueError:  # expired between add and incr
                cache.add(key, 1, timeout=2 * period)
        return True

    def wait(self) -> float:
        return getattr(self, "_wait", None)


def _wait(limit: int, period: int, offset: float, current: int, last: int) -> float:
    """Seconds until one more request fits: while this window alone is full, until it ends;
    else (then the last window holds requests) until its weight has fallen enough."""
    if current >= limit:
        return max(period - offset, 1.0)
    # last * (period - t) / period + current < limit  <=>  t > period * (1 - (limit - current)/last)
    needed = period * (1 - (limit - current) / last)
    return max(math.ceil(needed - offset), 1.0)
