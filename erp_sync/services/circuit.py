"""The circuit breaker of a connection: when to call its ERP at all.

closed → open after `failure_threshold` straight retryable failures; while open no call
reaches the ERP (jobs are held with reason `connection_open`); after
`open_cooldown_seconds` the circuit goes half_open and exactly one job (the probe, marked
by a cache flag that expires with the lease) may call; its success closes the circuit and
releases the held jobs, its failure opens it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from config.history import stamp
from erp_sync.choices import CircuitState, HoldReason
from erp_sync.models import Connection, MaintenanceWindow

logger = logging.getLogger(__name__)

PROBE_KEY = "concord:erp:probe:{pk}"
# Refresh `last_success_at` at most this often on a healthy circuit (it is a hot row).
SUCCESS_STAMP_EVERY = dt.timedelta(seconds=10)


@dataclass(frozen=True)
class Gate:
    """What a job may do on its connection now: call, call as the probe, or be held."""

    hold_reason: str = ""
    probe_token: str = ""

    @property
    def open(self) -> bool:
        return not self.hold_reason


def window_now(connection_ref: str = "pk") -> Exists:
    """Exists(a maintenance window of the connection at `connection_ref` is on now)."""
    now = timezone.now()
    return Exists(
        MaintenanceWindow.objects.filter(
            connection=OuterRef(connection_ref), starts_at__lte=now, ends_at__gt=now
        )
    )


def cooldown_over(connection: Connection, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    opened = connection.opened_at or now
    return now >= opened + dt.timedelta(seconds=connection.open_cooldown_seconds)


def probe_claim(connection: Connection, *, ttl: float) -> str:
    """Become the one probe of a half-open circuit; "" when another job already is."""
    token = f"probe:{timezone.now().timestamp()}"
    added = cache.add(PROBE_KEY.format(pk=connection.pk), token, timeout=max(int(ttl), 1))
    return token if added else ""


def probe_release(connection: Connection) -> None:
    cache.delete(PROBE_KEY.format(pk=connection.pk))


def probe_active(connection: Connection) -> bool:
    return cache.get(PROBE_KEY.format(pk=connection.pk)) is not None


def connection_gate(connection: Connection, *, actor, lease_seconds: float) -> Gate:
    """Decide whether a job may call `connection`'s ERP now (no call is made here).

    `connection` carries `in_window` (see `window_now`). An open circuit whose cooldown
    passed is moved to half_open here; the caller that gets a `probe_token` must call
    `probe_release` once its call's outcome is recorded.
    """
    if connection.paused:
        return Gate(hold_reason=HoldReason.PAUSED)
    if getattr(connection, "in_window", False):
        return Gate(hold_reason=HoldReason.MAINTENANCE)
    state = connection.circuit_state
    if state == CircuitState.CLOSED:
        return Gate()
    if state == CircuitState.OPEN:
        if not cooldown_over(connection):
            return Gate(hold_reason=HoldReason.CONNECTION_OPEN)
        state = circuit_probe(connection_id=connection.pk, actor=actor)
        if state == CircuitState.CLOSED:
            return Gate()
    token = probe_claim(connection, ttl=lease_seconds)
    if not token:
        return Gate(hold_reason=HoldReason.CONNECTION_OPEN)
    return Gate(probe_token=token)


def circuit_probe(*, connection_id: int, actor) -> str:
    """open → half_open once the cooldown passed; returns the circuit state after.

    Idempotent: a circuit already half_open or closed is left as it is.
    """
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        if connection.circuit_state == CircuitState.OPEN and cooldown_over(connection):
            connection.probe()
            stamp(connection, actor=actor, reason="cooldown over: probing the ERP with one call")
            connection.save(update_fields=["circuit_state"])
        return connection.circuit_state


def circuit_record_failure(*, connection_id: int, error: str, actor) -> str:
    """Count one retryable failure; trip the circuit at the threshold (or a failed probe).

    Returns the circuit state after. Must run inside the caller's transaction.
    """
    connection = Connection.objects.select_for_update().get(pk=connection_id)
    connection.consecutive_failures += 1
    connection.last_error = error[:2000]
    connection.last_error_at = timezone.now()
    fields = ["consecutive_failures", "last_error", "last_error_at"]
    state = connection.circuit_state
    if state == CircuitState.HALF_OPEN or (
        state == CircuitState.CLOSED
        and connection.consecutive_failures >= connection.failure_threshold
    ):
        connection.trip(error=error[:2000])
        fields += ["circuit_state", "opened_at"]
        reason = (
            "probe failed: circuit open again"
            if state == CircuitState.HALF_OPEN
            else f"{connection.consecutive_failures} straight failures: circuit open"
        )
        stamp(connection, actor=actor, reason=f"{reason} ({error[:200]})")
        connection.save(update_fields=fields)
        logger.warning("erp circuit opened", extra={"connection": connection.pk})
    else:
        # A counter, not a change a person reviews: no history row.
        Connection.objects.filter(pk=connection.pk).update(
            **{name: getattr(connection, name) for name in fields}
        )
    return connection.circuit_state


def circuit_record_success(*, connection: Connection, actor) -> bool:
    """A call succeeded: close a half-open/open circuit, reset the failure count.

    `connection` is the (unlocked) copy the caller read; the row is locked only when
    something must change. Returns True when the circuit was closed by this call (the caller
    then releases the jobs held for `connection_open`). Must run inside a transaction.
    """
    now = timezone.now()
    healthy = (
        connection.circuit_state == CircuitState.CLOSED and connection.consecutive_failures == 0
    )
    if healthy:
        stale = connection.last_success_at is None or (
            now - connection.last_success_at > SUCCESS_STAMP_EVERY
        )
        if stale:
            Connection.objects.filter(pk=connection.pk).update(last_success_at=now)
        return False
    locked = Connection.objects.select_for_update().get(pk=connection.pk)
    if locked.circuit_state == CircuitState.CLOSED:
        Connection.objects.filter(pk=locked.pk).update(consecutive_failures=0, last_success_at=now)
        return False
    locked.recover()
    stamp(locked, actor=actor, reason="the ERP answered: circuit closed")
    locked.save(
        update_fields=["circuit_state", "consecutive_failures", "opened_at", "last_success_at"]
    )
    return True
