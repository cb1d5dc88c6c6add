"""The sync engine's knobs: leases, backoff, slot waits, sweeper ages.

Each knob is read, in order, from the connection's `settings["sync"]` dict (so a drill can
shorten one connection's lease), from Django settings `CONCORD_ERP_<NAME>` and from the
process environment of the same name, else the default below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, float] = {
    # How long a worker owns an in-flight job (and its semaphore slot) before the sweeper
    # may reclaim it. At least call_timeout_seconds + lease_margin_seconds (validated).
    "lease_seconds": 120.0,
    # The longest one ERP call may take: the adapter gives up (a retryable timeout) at this
    # deadline, so a call never outlives the lease it was started under.
    "call_timeout_seconds": 60.0,
    # Slack between a call's deadline and its lease's end: recording the outcome, and clock
    # skew between the worker and the sweeper that compares the lease with its own clock.
    "lease_margin_seconds": 5.0,
    # How many ready jobs of one connection a task posts per slot and transaction (1 when
    # tasks run eagerly), and how long one task keeps draining a backlog before it yields.
    "batch_size": 16.0,
    "drain_seconds": 30.0,
    # Backoff: min(base * 2**attempts * random(), cap, visibility timeout - margin).
    "retry_base_seconds": 2.0,
    "retry_cap_seconds": 900.0,
    "visibility_margin_seconds": 60.0,
    # How long a task polls for a free slot before re-enqueueing itself.
    "slot_wait_seconds": 2.0,
    "requeue_seconds": 1.0,
    # Sweeper: an applied event not dispatched after this long is dispatched again.
    "dispatch_grace_seconds": 30.0,
    # Sweeper: a pending job untouched this long has probably lost its task message.
    "stale_pending_seconds": 300.0,
    # Sweeper: how many rows one pass handles per kind of work.
    "sweep_batch": 1000.0,
}


class TuningError(ImproperlyConfigured):
    """Knobs that contradict each other (a lease shorter than a call could last)."""


@dataclass(frozen=True)
class Tuning:
    lease_seconds: float
    call_timeout_seconds: float
    lease_margin_seconds: float
    batch_size: float
    drain_seconds: float
    retry_base_seconds: float
    retry_cap_seconds: float
    visibility_margin_seconds: float
    slot_wait_seconds: float
    requeue_seconds: float
    dispatch_grace_seconds: float
    stale_pending_seconds: float
    sweep_batch: float

    def __post_init__(self) -> None:
        # A call that could outlive its lease could be made twice: the sweeper reclaims the
        # job and another worker calls the ERP while the first call is still running.
        if self.lease_seconds < self.call_timeout_seconds + self.lease_margin_seconds:
            raise TuningError(
                f"lease_seconds ({self.lease_seconds:g}) must be at least call_timeout_seconds "
                f"({self.call_timeout_seconds:g}) + lease_margin_seconds "
                f"({self.lease_margin_seconds:g})"
            )
        if self.batch_size < 1:
            raise TuningError("batch_size must be at least 1")
        # A post put back for later (no free slot, a stopped batch) waits up to twice
        # requeue_seconds in the worker; past the visibility timeout Redis would hand the
        # message to a second worker meanwhile.
        if REQUEUE_JITTER * self.requeue_seconds > visibility_timeout():
            raise TuningError(
                f"requeue_seconds ({self.requeue_seconds:g}) lets a re-enqueued post wait "
                f"{REQUEUE_JITTER * self.requeue_seconds:g}s, past the broker's visibility "
                f"timeout ({visibility_timeout():g}s)"
            )

    @property
    def max_countdown(self) -> float:
        """A retry countdown never reaches the broker's visibility timeout (redelivery)."""
        visibility = visibility_timeout()
        countdown = min(self.retry_cap_seconds, visibility - self.visibility_margin_seconds)
        return max(countdown, min(1.0, visibility / 2))

    def countdown_bounds(self) -> dict[str, float]:
        """The longest countdown each place that enqueues a post for later may give (the
        redelivery drill's check: none may exceed the visibility timeout)."""
        return {
            "retry backoff (posting.failures)": self.max_countdown,
            "no free slot (posting.engine)": REQUEUE_JITTER * self.requeue_seconds,
            "batch stopped (posting.outcomes)": self.requeue_seconds,
        }


# The engine re-enqueues a post that found no free slot after requeue_seconds x (1 + random()).
REQUEUE_JITTER = 2.0


def visibility_timeout() -> float:
    """Seconds Redis waits for an acknowledgement before delivering a message again."""
    return float(getattr(settings, "CELERY_VISIBILITY_TIMEOUT", 3600))


def _global(name: str, default: float) -> float:
    key = f"CONCORD_ERP_{name.upper()}"
    value = getattr(settings, key, None)
    if value is None:
        value = os.environ.get(key)
    return float(value) if value not in (None, "") else default


# The global knobs, read once per process (every post used to read 9 settings and 9
# environment variables); a settings override (tests) clears them.
_globals: dict[str, float] | None = None
_global_tuning: Tuning | None = None


def _global_values() -> dict[str, float]:
    global _globals, _global_tuning
    if _globals is None:
        _globals = {name: _global(name, default) for name, default in DEFAULTS.items()}
        _global_tuning = Tuning(**_globals)
    return _globals


@receiver(setting_changed)
def _forget_globals(*, setting: str, **kwargs) -> None:
    global _globals, _global_tuning
    if setting.startswith("CONCORD_ERP_") or setting == "CELERY_VISIBILITY_TIMEOUT":
        _globals = _global_tuning = None


def tuning_for(connection=None) -> Tuning:
    """The knobs for `connection` (or the global ones)."""
    values = _global_values()
    overrides = {}
    if connection is not None and isinstance(connection.settings, dict):
        overrides = connection.settings.get("sync") or {}
    if not overrides and _global_tuning is not None:
        return _global_tuning
    return _with(values, overrides)


def _with(values: dict[str, float], overrides: dict) -> Tuning:
    return Tuning(
        **{name: float(overrides[name]) if name in overrides else values[name] for name in values}
    )


def tuning_check(overrides) -> None:
    """Refuse a connection's `settings["sync"]` that names an unknown knob, holds a
    non-number or contradicts itself with the global knobs (TuningError)."""
    if not isinstance(overrides, dict):
        raise TuningError("sync must be an object of knobs")
    unknown = sorted(set(overrides) - set(DEFAULTS))
    if unknown:
        raise TuningError(f"unknown sync knob(s): {', '.join(unknown)}")
    for name, value in overrides.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise TuningError(f"sync.{name} must be a number ≥ 0")
    _with(_global_values(), overrides)
