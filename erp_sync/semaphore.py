"""A distributed counting semaphore per ERP connection: never more than `max_concurrency`
calls in flight to one ERP, across every worker process and machine.

Redis (settings.REDIS_URL set): one sorted set per connection holds the holders' tokens
scored by their expiry (epoch ms). A Lua script drops expired holders, checks ZCARD against
the limit and adds the new token, atomically. A holder that dies (SIGKILL) never releases,
but its token expires after `ttl` seconds, so its slot frees itself. After each acquire the
script also raises a "max observed" key to the new ZCARD: the benchmark and the drills read
it to prove the limit held. A release pushes a wake-up onto a short list that waiting
acquirers BLPOP, so a freed slot is taken within a round trip rather than at the next poll
(a slot freed by expiry wakes nobody: waiters also re-try every `POLL_SECONDS`).

Without Redis, Celery runs tasks eagerly inside the calling process, so a process-local
table guarded by a lock is exact (it is also thread-safe, for tests that hammer it from
threads). It is NOT shared between processes: run Redis for real workers.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cache

from django.conf import settings

KEY_PREFIX = "concord:erp:sem"

_ACQUIRE = """
local key, max_key = KEYS[1], KEYS[2]
local now, limit, expires, token = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local ttl_ms = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
local held = redis.call('ZCARD', key)
if held >= limit then
  return 0
end
redis.call('ZADD', key, expires, token)
redis.call('PEXPIRE', key, ttl_ms)
held = held + 1
local seen = tonumber(redis.call('GET', max_key) or '0')
if held > seen then
  redis.call('SET', max_key, held)
end
return 1
"""


_RELEASE = """
local key, wake_key, token = KEYS[1], KEYS[2], ARGV[1]
if redis.call('ZREM', key, token) == 1 then
  redis.call('LPUSH', wake_key, '1')
  redis.call('LTRIM', wake_key, 0, 63)
  redis.call('PEXPIRE', wake_key, 60000)
end
return 1
"""

# Longest a waiting acquirer sleeps before trying again without a wake-up.
POLL_SECONDS = 0.25


def _now_ms() -> int:
    return int(time.time() * 1000)


class RedisSemaphore:
    """The Redis-backed semaphore (see the module docstring)."""

    def __init__(self, url: str):
        import redis

        self.client = redis.Redis.from_url(url)
        self._acquire = self.client.register_script(_ACQUIRE)
        self._release = self.client.register_script(_RELEASE)

    @staticmethod
    def _keys(connection_id: int) -> tuple[str, str]:
        return f"{KEY_PREFIX}:{connection_id}", f"{KEY_PREFIX}:{connection_id}:max"

    @staticmethod
    def _wake_key(connection_id: int) -> str:
        return f"{KEY_PREFIX}:{connection_id}:wake"

    def acquire(self, connection_id: int, *, limit: int, ttl: float) -> str | None:
        token = uuid.uuid4().hex
        now = _now_ms()
        ttl_ms = max(int(ttl * 1000), 1)
        ok = self._acquire(
            keys=self._keys(connection_id), args=[now, limit, now + ttl_ms, token, ttl_ms]
        )
        return token if ok else None

    def release(self, connection_id: int, token: str) -> None:
        self._release(
            keys=[self._keys(connection_id)[0], self._wake_key(connection_id)], args=[token]
        )

    def wait(self, connection_id: int, seconds: float) -> None:
        """Block until a slot of `connection_id` is released (or `seconds` pass)."""
        if seconds > 0:
            self.client.blpop([self._wake_key(connection_id)], timeout=seconds)

    def in_flight(self, connection_id: int) -> int:
        key = self._keys(connection_id)[0]
        self.client.zremrangebyscore(key, "-inf", _now_ms())
        return int(self.client.zcard(key))

    def max_observed(self, connection_id: int) -> int:
        return int(self.client.get(self._keys(connection_id)[1]) or 0)

    def reset(self, connection_id: int) -> None:
        self.client.delete(*self._keys(connection_id), self._wake_key(connection_id))


@dataclass
class LocalSemaphore:
    """Process-local semaphore for eager mode (one process); thread-safe."""

    _lock: threading.Lock = field(default_factory=threading.Lock)
    _holders: dict[int, dict[str, float]] = field(default_factory=dict)
    _max: dict[int, int] = field(default_factory=dict)
    _released: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self._released = threading.Condition(self._lock)

    def _live(self, connection_id: int) -> dict[str, float]:
        holders = self._holders.setdefault(connection_id, {})
        now = time.monotonic()
        for token in [t for t, expires in holders.items() if expires <= now]:
            del holders[token]
        return holders

    def acquire(self, connection_id: int, *, limit: int, ttl: float) -> str | None:
        with self._lock:
            holders = self._live(connection_id)
            if len(holders) >= limit:
                return None
            token = uuid.uuid4().hex
            holders[token] = time.monotonic() + ttl
            self._max[connection_id] = max(self._max.get(connection_id, 0), len(holders))
            return token

    def release(self, connection_id: int, token: str) -> None:
        with self._lock:
            self._holders.get(connection_id, {}).pop(token, None)
            self._released.notify_all()

    def wait(self, connection_id: int, seconds: float) -> None:
        with self._lock:
            self._released.wait(timeout=max(seconds, 0.0))

    def in_flight(self, connection_id: int) -> int:
        with self._lock:
            return len(self._live(connection_id))

    def max_observed(self, connection_id: int) -> int:
        with self._lock:
            return self._max.get(connection_id, 0)

    def reset(self, connection_id: int) -> None:
        with self._lock:
            self._holders.pop(connection_id, None)
            self._max.pop(connection_id, None)


@cache
def _semaphore_for(url: str) -> RedisSemaphore | LocalSemaphore:
    return RedisSemaphore(url) if url else LocalSemaphore()


def get_semaphore() -> RedisSemaphore | LocalSemaphore:
    """The semaphore this process uses: Redis when settings.REDIS_URL, else process-local."""
    return _semaphore_for(settings.REDIS_URL or "")


def acquire(connection, *, ttl: float, wait: float = 0.0) -> str | None:
    """Take one of `connection.max_concurrency` slots for `ttl` seconds; a token or None.

    Waits up to `wait` seconds for a release (or an expiry, seen at the next re-try).
    """
    semaphore = get_semaphore()
    deadline = time.monotonic() + wait
    while True:
        token = semaphore.acquire(connection.pk, limit=connection.max_concurrency, ttl=ttl)
        left = deadline - time.monotonic()
        if token is not None or left <= 0:
            return token
        semaphore.wait(connection.pk, min(left, POLL_SECONDS))


def release(connection, token: str | None) -> None:
    """Give a slot back (a no-op for None)."""
    if token is not None:
        get_semaphore().release(connection.pk, token)


def in_flight(connection) -> int:
    """How many calls to `connection`'s ERP hold a slot now."""
    return get_semaphore().in_flight(connection.pk)


def max_in_flight(connection) -> int:
    """The most slots of `connection` ever held at once (since the last reset)."""
    return get_semaphore().max_observed(connection.pk)


def reset(connection) -> None:
    """Forget holders and the observed maximum of `connection` (drills, benchmarks)."""
    get_semaphore().reset(connection.pk)
