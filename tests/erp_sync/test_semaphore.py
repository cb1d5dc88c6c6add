"""The per-connection semaphore never lets more than max_concurrency holders in."""

import threading
import time
import uuid

import pytest

from erp_sync import semaphore
from erp_sync.semaphore import LocalSemaphore, RedisSemaphore


class _Conn:
    def __init__(self, pk: int, limit: int):
        self.pk = pk
        self.max_concurrency = limit


def _hammer(sem, *, limit: int, threads: int = 16, rounds: int = 30) -> tuple[int, int]:
    """Many threads acquire/hold/release; returns (max concurrent seen, successful acquires)."""
    pk = uuid.uuid4().int % 10**9
    sem.reset(pk)
    lock = threading.Lock()
    inside = 0
    peak = 0
    acquired = 0

    def worker():
        nonlocal inside, peak, acquired
        for _ in range(rounds):
            token = sem.acquire(pk, limit=limit, ttl=30)
            if token is None:
                time.sleep(0.001)
                continue
            with lock:
                inside += 1
                acquired += 1
                peak = max(peak, inside)
            time.sleep(0.002)
            with lock:
                inside -= 1
            sem.release(pk, token)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    assert sem.max_observed(pk) <= limit
    assert sem.in_flight(pk) == 0
    return peak, acquired


def test_local_semaphore_under_threads_never_exceeds_limit():
    peak, acquired = _hammer(LocalSemaphore(), limit=3)
    assert peak == 3  # the limit was reached (contention was real) but never exceeded
    assert acquired > 0


def test_local_semaphore_expired_holder_frees_its_slot():
    sem = LocalSemaphore()
    assert sem.acquire(1, limit=1, ttl=0.05) is not None
    assert sem.acquire(1, limit=1, ttl=0.05) is None
    time.sleep(0.08)
    assert sem.acquire(1, limit=1, ttl=0.05) is not None


def test_acquire_waits_for_a_slot_then_gives_up(settings):
    settings.REDIS_URL = ""
    conn = _Conn(pk=424242, limit=1)
    semaphore.reset(conn)
    token = semaphore.acquire(conn, ttl=10)
    started = time.monotonic()
    assert semaphore.acquire(conn, ttl=10, wait=0.1) is None
    assert time.monotonic() - started >= 0.1
    assert semaphore.in_flight(conn) == 1
    semaphore.release(conn, token)
    assert semaphore.in_flight(conn) == 0
    assert semaphore.max_in_flight(conn) == 1


@pytest.mark.redis
def test_redis_semaphore_under_threads_never_exceeds_limit(settings):
    sem = RedisSemaphore(settings.REDIS_URL)
    peak, acquired = _hammer(sem, limit=4)
    assert peak == 4
    assert acquired > 0


@pytest.mark.redis
def test_redis_semaphore_expired_holder_frees_its_slot(settings):
    sem = RedisSemaphore(settings.REDIS_URL)
    pk = uuid.uuid4().int % 10**9
    assert sem.acquire(pk, limit=1, ttl=0.1) is not None
    assert sem.acquire(pk, limit=1, ttl=0.1) is None
    time.sleep(0.15)
    assert sem.acquire(pk, limit=1, ttl=0.1) is not None
    sem.reset(pk)


def _released_slot_wakes_a_waiter(conn) -> float:
    """Seconds a waiter took to get the slot released 0.1 s after it began to wait."""
    semaphore.reset(conn)
    token = semaphore.acquire(conn, ttl=10)
    threading.Timer(0.1, semaphore.release, args=(conn, token)).start()
    started = time.monotonic()
    assert semaphore.acquire(conn, ttl=10, wait=2.0) is not None
    return time.monotonic() - started


def test_a_released_slot_wakes_a_waiter_at_once(settings):
    settings.REDIS_URL = ""
    # Not at the next re-try (POLL_SECONDS = 0.25 s later).
    assert _released_slot_wakes_a_waiter(_Conn(pk=434343, limit=1)) < 0.2


@pytest.mark.redis
def test_a_released_redis_slot_wakes_a_waiter_at_once(settings):
    assert _released_slot_wakes_a_waiter(_Conn(pk=uuid.uuid4().int % 10**9, limit=1)) < 0.2
