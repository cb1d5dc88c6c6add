"""The sync engine's knobs: leases, backoff, slot waits, sweeper ages.

Each knob is read, in order, from the connection's `settings["sync"]` dict (so a drill can
shorten one connection's lease), from Django settings `CONCORD_ERP_<NAME>` and from the
process environment of the same name, else the default below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

DEFAULTS: dict[str, float] = {
    # How long a worker owns an in-flight job (and its semaphore slot) before the sweeper
    # may reclaim it. Longer than the slowest ERP call.
    "lease_seconds": 120.0,
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


@dataclass(frozen=True)
class Tuning:
    lease_seconds: float
    retry_base_seconds: float
    retry_cap_seconds: float
    visibility_margin_seconds: float
    slot_wait_seconds: float
    requeue_seconds: float
    dispatch_grace_seconds: float
    stale_pending_seconds: float
    sweep_batch: float

    @property
    def max_countdown(self) -> float:
        """A countdown never reaches the broker's visibility timeout (redelivery)."""
        visibility = float(getattr(settings, "CELERY_VISIBILITY_TIMEOUT", 3600))
        return max(min(self.retry_cap_seconds, visibility - self.visibility_margin_seconds), 1.0)


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
    if setting.startswith("CONCORD_ERP_"):
        _globals = _global_tuning = None


def tuning_for(connection=None) -> Tuning:
    """The knobs for `connection` (or the global ones)."""
    values = _global_values()
    overrides = {}
    if connection is not None and isinstance(connection.settings, dict):
        overrides = connection.settings.get("sync") or {}
    if not overrides and _global_tuning is not None:
        return _global_tuning
    return Tuning(
        **{name: float(overrides[name]) if name in overrides else values[name] for name in values}
    )
