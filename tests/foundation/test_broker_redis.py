"""The broker's Redis: a database of its own (the cache uses another) and no eviction.

Every test here runs against a throw-away redis-server on a free port, so the shared
Redis's configuration is never touched.
"""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import redis
from django.core.cache.backends.redis import RedisCache

from config.celery import broker_eviction_problem
from config.settings.base import cache_redis_url

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason="needs redis-server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def throwaway_redis():
    """A private redis-server; yields its URL (database 0) and stops it afterwards."""
    port = _free_port()
    server = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0", client
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_broker_with_an_evicting_policy_is_named_as_a_problem(throwaway_redis):
    url, client = throwaway_redis
    client.config_set("maxmemory-policy", "allkeys-lru")

    problem = broker_eviction_problem(url)

    assert problem is not None
    assert "'allkeys-lru'" in problem and "noeviction" in problem


def test_broker_with_noeviction_is_accepted(throwaway_redis):
    url, client = throwaway_redis
    client.config_set("maxmemory-policy", "noeviction")

    assert broker_eviction_problem(url) is None


def test_worker_refuses_to_start_on_an_evicting_broker(throwaway_redis, tmp_path):
    url, client = throwaway_redis
    client.config_set("maxmemory-policy", "volatile-lru")
    env = {**os.environ, "REDIS_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    env.pop("CACHE_URL", None)

    worker = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo",
         "--without-mingle", "--without-gossip", "--loglevel=WARNING"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert worker.returncode != 0
    output = worker.stdout + worker.stderr
    assert "refuses to start the worker" in output
    assert "'volatile-lru'" in output and "noeviction" in output


@pytest.mark.parametrize(
    ("broker", "cache"),
    [
        ("redis://127.0.0.1:6379/7", "redis://127.0.0.1:6379/8"),
        ("redis://127.0.0.1:6379/15", "redis://127.0.0.1:6379/14"),
        ("redis://:pw@10.0.0.5:6380", "redis://:pw@10.0.0.5:6380/1"),
    ],
)
def test_cache_database_is_derived_apart_from_the_broker(broker, cache):
    assert cache_redis_url(broker) == cache


def test_settings_put_the_cache_in_another_database_than_the_broker():
    env = {**os.environ, "REDIS_URL": "redis://127.0.0.1:6379/3"}
    env.pop("CACHE_URL", None)
    program = (
        "import config.settings.base as s; "
        "print(s.CELERY_BROKER_URL, s.CACHES['default']['LOCATION'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, check=True
    ).stdout.split()

    assert out == ["redis://127.0.0.1:6379/3", "redis://127.0.0.1:6379/4"]


def test_clearing_the_cache_keeps_queued_tasks(throwaway_redis):
    url, client = throwaway_redis
    client.lpush("events", b'{"task": "queued"}')  # a message as kombu queues it
    cache = RedisCache(cache_redis_url(url), {})
    cache.set("k", "v")

    cache.clear()

    assert cache.get("k") is None
    assert client.lrange("events", 0, -1) == [b'{"task": "queued"}']
