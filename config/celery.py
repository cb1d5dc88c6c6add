"""The Celery app. Queues: `events`, `erp`, `recon`. The correlation id travels in headers."""

import os

from celery import Celery, signals
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("concord")
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue on its own direct exchange: with one shared exchange the Redis transport
# copies a message into every queue bound to it.
app.conf.task_queues = [
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("events", "erp", "recon")
]
app.conf.task_default_exchange = "events"
app.conf.task_default_routing_key = "events"
app.autodiscover_tasks()

_tokens: dict[str, object] = {}


def broker_eviction_problem(broker_url: str) -> str | None:
    """Why a Redis broker at `broker_url` may lose queued tasks, or None when it may not.

    Redis evicting keys under memory pressure (any maxmemory-policy but `noeviction`) can
    drop queued messages silently; with `noeviction` a full Redis refuses new writes loudly.
    """
    if not broker_url.startswith(("redis://", "rediss://")):
        return None
    import redis

    client = redis.Redis.from_url(broker_url, socket_connect_timeout=5, socket_timeout=5)
    policy = client.info("memory").get("maxmemory_policy", "")
    if policy != "noeviction":
        return (
            f"the Celery broker Redis has maxmemory-policy {policy!r}: it may evict queued "
            "tasks under memory pressure. Set `maxmemory-policy noeviction` on the broker "
            "Redis (the cache uses another database or server) and start the worker again."
        )
    return None


@signals.worker_init.connect
def refuse_evicting_broker(sender=None, **kwargs):
    """At worker start-up: refuse (exit) a broker Redis that may evict keys."""
    app_conf = sender.app.conf if sender is not None else app.conf
    problem = broker_eviction_problem(app_conf.broker_url or "")
    if problem:
        # SystemExit, because Celery logs and swallows ordinary exceptions of signal receivers.
        raise SystemExit(f"Concord refuses to start the worker: {problem}")


@signals.before_task_publish.connect
def _add_correlation_header(headers=None, **kwargs):
    from config.correlation import get_correlation_id

    if headers is not None and "correlation_id" not in headers:
        headers["correlation_id"] = get_correlation_id()


@signals.task_prerun.connect
def _set_correlation(task_id=None, task=None, **kwargs):
    from config.correlation import get_correlation_id, new_correlation_id, set_correlation_id

    # Eager tasks publish nothing, so they keep the caller's id.
    correlation_id = (
        getattr(task.request, "correlation_id", None)
        or get_correlation_id()
        or new_correlation_id()
    )
    _tokens[task_id] = set_correlation_id(correlation_id)


@signals.task_postrun.connect
def _reset_correlation(task_id=None, **kwargs):
    from config.correlation import reset_correlation_id

    token = _tokens.pop(task_id, None)
    if token is not None:
        reset_correlation_id(token)
