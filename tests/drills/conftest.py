"""Fixtures of the fault drills (`make drills`; not part of `make test`).

A session gets one throw-away PostgreSQL cluster (initdb, its own port) holding a migrated
template database, one broker Redis and one cache Redis (redis-server, their own ports).
Each drill gets a fresh database copied from the template; this test process's ORM and
Celery app are pointed at the drill's database and broker for the drill's duration, so its
assertions read what the subprocesses (gunicorn, Celery workers, the sweeper loop) wrote.
A drill may stop or restart any of these servers: none of them is shared with anything.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from tests.drills.servers import (
    ROOT,
    AppServer,
    PostgresCluster,
    RedisServer,
    Supervised,
    Sweeper,
    Worker,
)

TEMPLATE = "drill_template"
_numbers = itertools.count(1)


def drill_seconds(name: str, default: float) -> float:
    """A drill duration, shortened by CONCORD_DRILL_<NAME> for quick local runs."""
    value = os.environ.get(f"CONCORD_DRILL_{name.upper()}")
    return float(value) if value else default


def base_env() -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CACHE_URL"):
        env.pop(name, None)
    return env


@pytest.fixture(scope="session")
def drill_pg():
    """The drills' PostgreSQL cluster, with `drill_template` migrated once."""
    cluster = PostgresCluster().init()
    try:
        cluster.execute(f'CREATE DATABASE "{TEMPLATE}"')
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env={**base_env(), "DATABASE_URL": cluster.url(TEMPLATE)},
            check=True,
            timeout=600,
        )
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def drill_redis():
    """The broker Redis of the drills (a drill may stop and start it: same port)."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def cache_redis():
    """The cache Redis (CACHE_URL) of the drills' processes: never stopped by a drill."""
    server = RedisServer().start()
    yield server
    server.stop()


def _point_celery_at(broker_url: str) -> None:
    """This process's Celery app publishes to `broker_url` (for real, not eagerly)."""
    from kombu import pools

    from config.celery import app

    app.conf.task_always_eager = False
    if app.conf.broker_url == broker_url:
        return
    app.conf.broker_url = broker_url
    if app._pool is not None:  # connections made for another broker: forget them
        app._pool.force_close_all()
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None


def _point_orm_at(url: str):
    """Replace this process's `default` database connection by one to `url`; the old one."""
    import dj_database_url
    from django.db import connections
    from django.db.utils import load_backend

    settings_dict = connections.configure_settings(
        {"default": dj_database_url.parse(url, conn_max_age=0)}
    )["default"]
    old = connections["default"]
    connections["default"] = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(
        settings_dict, "default"
    )
    return old


@dataclass
class Drill:
    """One drill's servers and processes; every process it starts is stopped at the end."""

    pg: PostgresCluster
    database: str
    redis: RedisServer
    cache: RedisServer
    processes: list = field(default_factory=list)

    @property
    def database_url(self) -> str:
        return self.pg.url(self.database)

    def env(self, **extra) -> dict:
        """The environment of a Concord subprocess of this drill (knobs as CONCORD_ERP_*)."""
        return {
            **base_env(),
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis.url,
            "CACHE_URL": self.cache.url,
            **{key: str(value) for key, value in extra.items()},
        }

    def app_server(self, **extra) -> AppServer:
        server = AppServer(self.env(**extra))
        self.processes.append(server)
        return server.start()

    def worker(self, *, concurrency: int = 2, wait: bool = True, **extra) -> Worker:
        worker = Worker(self.env(**extra), concurrency=concurrency)
        self.processes.append(worker)
        return worker.start(wait=wait)

    def supervised_worker(self, *, concurrency: int = 2, **extra) -> Supervised:
        """A worker restarted whenever it exits by itself (systemd `Restart=always`)."""
        supervised = Supervised(Worker(self.env(**extra), concurrency=concurrency))
        self.processes.append(supervised)
        return supervised.start()

    def sweeper(self, *, interval: float = 1.0, **extra) -> Sweeper:
        sweeper = Sweeper(self.env(**extra), interval=interval)
        self.processes.append(sweeper)
        return sweeper.start()

    def stop_all(self) -> None:
        for process in self.processes:  # all at once, then wait for each
            process.terminate()
        for process in reversed(self.processes):
            process.stop()


@pytest.fixture
def drill(drill_pg, drill_redis, cache_redis, django_db_blocker, settings):
    """A fresh database from the template, clean Redis servers, this process pointed at both."""
    from django.db import connections

    if not drill_redis.answers():  # a failed drill may have left it stopped
        drill_redis.start()
    drill_redis.flush()
    cache_redis.flush()
    if not drill_pg.running():  # a failed drill may have left it stopped
        drill_pg.start()
    database = f"drill_{os.getpid()}_{next(_numbers)}"
    drill_pg.execute(f'CREATE DATABASE "{database}" TEMPLATE "{TEMPLATE}"')
    state = Drill(pg=drill_pg, database=database, redis=drill_redis, cache=cache_redis)
    settings.REDIS_URL = drill_redis.url  # the semaphore of this process
    _point_celery_at(drill_redis.url)
    with django_db_blocker.unblock():
        old = _point_orm_at(state.database_url)
        try:
            yield state
        finally:
            state.stop_all()
            connections["default"].close()
            connections["default"] = old
    if not drill_pg.running():
        drill_pg.start()
    drill_pg.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


@pytest.fixture
def drill_world(drill):
    """Entity US01 with a sandbox connection and mapping rules, customer cus_x, and an API
    client allowed to ingest events (its bearer token as `token`)."""
    from config.accounts.services import api_client_create
    from tests.billing.factories import CustomerFactory
    from tests.erp_sync.job_helpers import make_world

    def make(**connection_fields) -> dict:
        world = make_world(**connection_fields)
        world["customer"] = CustomerFactory(customer_id="cus_x", entity=world["entity"])
        _, world["token"] = api_client_create(
            name="drill-source", scopes=["events:write", "read"], sources=["*"]
        )
        return world

    return make


def pytest_terminal_summary(terminalreporter):
    """Each drill's summary line again at the end of the run, where CI logs show it; the
    subprocess logs are removed when every drill passed, else their directory is named."""
    import shutil

    from tests.drills.load import SUMMARIES
    from tests.drills.servers import LOG_DIR

    if SUMMARIES:
        terminalreporter.section("fault drills")
        for line in SUMMARIES:
            terminalreporter.write_line(line)
    if terminalreporter.stats.get("failed") or terminalreporter.stats.get("error"):
        terminalreporter.write_line(f"drill process logs (gunicorn, workers, sweeper): {LOG_DIR}")
    else:
        shutil.rmtree(LOG_DIR, ignore_errors=True)
