"""Writes of ERP connections: create/update, pause/resume, maintenance windows; health.

Secrets never enter the database: `secret_env` names the environment variable holding the
password or token, and a settings dict with a key that looks like a secret ("password",
"token", "secret", "api_key", ...) is refused. The circuit breaker fields are the sync
engine's; these services never touch them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.dateparse import parse_datetime

from billing.models import LegalEntity
from config.history import stamp
from erp_sync.adapters.base import Health
from erp_sync.adapters.registry import adapter_for
from erp_sync.choices import AdapterKind, ClosedPeriodPolicy
from erp_sync.errors import (
    ConnectionSettingsError,
    MaintenanceWindowError,
    SecretInSettingsError,
)
from erp_sync.models import Connection, MaintenanceWindow, validate_secret_env
from erp_sync.services.tuning import TuningError, tuning_check

SECRET_KEY_RE = re.compile(
    r"pass(word|wd)?|token|secret|api[_-]?key|private[_-]?key|credential", re.IGNORECASE
)
ENV_NAME_RE = re.compile(r"[A-Z_][A-Z0-9_]{0,99}")
EDITABLE_FIELDS = (
    "name",
    "adapter_kind",
    "settings",
    "secret_env",
    "is_active",
    "max_concurrency",
    "failure_threshold",
    "open_cooldown_seconds",
    "closed_period_policy",
)
_RATES = ("error_rate", "rate_429", "drop_after_commit_rate")
# Adapter kinds whose ERP takes one poster at a time (Tryton's numbering lock answers a
# second concurrent poster 503): their max concurrency is 1, here and in a check constraint.
SINGLE_POSTER_KINDS = frozenset({AdapterKind.TRYTON})
_POSITIVE_INTEGERS = {
    "max_concurrency": 32767,
    "failure_threshold": 1000,
    "open_cooldown_seconds": 86_400 * 7,
}


def connection_create(*, data: dict[str, Any], actor) -> Connection:
    """A new connection for `data["entity"]` (a LegalEntity or its code).

    A Tryton connection's max concurrency is 1 (the default for it; more is refused).
    Raises SecretInSettingsError, ConnectionSettingsError.
    """
    fields = _clean(data)
    entity = data.get("entity")
    if not isinstance(entity, LegalEntity):
        entity = LegalEntity.objects.filter(code=entity).first()
        if entity is None:
            raise ConnectionSettingsError(f"no legal entity {data.get('entity')!r}", field="entity")
    if "name" not in fields:
        raise ConnectionSettingsError("a name is required", field="name")
    if fields.get("adapter_kind") in SINGLE_POSTER_KINDS:
        fields.setdefault("max_concurrency", 1)
    connection = Connection(entity=entity, **fields)
    _check_concurrency(connection.adapter_kind, connection.max_concurrency)
    _check_name_free(connection)
    _check_one_active(connection)
    with transaction.atomic():
        stamp(connection, actor=actor, reason="connection created")
        connection.save()
    return connection


def connection_update(*, connection: Connection, data: dict[str, Any], actor) -> Connection:
    """Change the configuration of a connection (never its circuit state). Idempotent.

    Raises SecretInSettingsError, ConnectionSettingsError (a Tryton connection above max
    concurrency 1, a second active connection of one kind for the entity).
    """
    fields = _clean(data)
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        changed = [name for name, value in fields.items() if getattr(locked, name) != value]
        if not changed:
            return locked
        for name in changed:
            setattr(locked, name, fields[name])
        _check_concurrency(locked.adapter_kind, locked.max_concurrency)
        _check_name_free(locked)
        _check_one_active(locked)
        stamp(locked, actor=actor, reason=f"connection updated: {', '.join(changed)}")
        locked.save(update_fields=changed)
    return locked


def connection_pause(*, connection: Connection, reason: str, actor) -> Connection:
    """Stop posting through the connection (its jobs are held). Idempotent."""
    reason = (reason or "").strip()
    if not reason:
        raise ConnectionSettingsError("a reason is required to pause a connection", field="reason")
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        if locked.paused:
            return locked
        locked.paused = True
        locked.paused_reason = reason[:300]
        stamp(locked, actor=actor, reason=f"paused: {reason}")
        locked.save(update_fields=["paused", "paused_reason"])
    return locked


def connection_resume(*, connection: Connection, actor, reason: str = "") -> Connection:
    """Post through the connection again. Idempotent.

    Releasing the jobs held for `paused` is the sync engine's (its sweeper sees the flag).
    """
    with transaction.atomic():
        locked = Connection.objects.select_for_update().get(pk=connection.pk)
        if not locked.paused:
            return locked
        locked.paused = False
        locked.paused_reason = ""
        stamp(locked, actor=actor, reason=f"resumed{': ' + reason if reason else ''}")
        locked.save(update_fields=["paused", "paused_reason"])
    return locked


def maintenance_window_add(
    *,
    connection: Connection,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    reason: str = "",
    actor,
) -> MaintenanceWindow:
    """A period with no ERP calls. Raises MaintenanceWindowError unless it ends after it starts."""
    if ends_at <= starts_at:
        raise MaintenanceWindowError(
            f"the window ends ({ends_at.isoformat()}) before it starts ({starts_at.isoformat()})"
        )
    window = MaintenanceWindow(
        connection=connection, starts_at=starts_at, ends_at=ends_at, reason=reason[:300]
    )
    with transaction.atomic():
        stamp(window, actor=actor, reason=f"maintenance window added: {reason}".strip(": "))
        window.save()
    return window


def maintenance_window_remove(*, window: MaintenanceWindow, actor) -> None:
    """Delete a window (its history keeps it). Idempotent."""
    with transaction.atomic():
        locked = MaintenanceWindow.objects.select_for_update().filter(pk=window.pk).first()
        if locked is None:
            return
        stamp(locked, actor=actor, reason="maintenance window removed")
        locked.delete()


def connection_health(connection: Connection) -> Health:
    """Ask the ERP whether it answers. Never raises: any failure is ok=False with the detail."""
    try:
        return adapter_for(connection).health()
    except Exception as error:
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        return Health(ok=False, detail=f"{type(error).__name__}: {message}")


# ------------------------------------------------------------------------------------------


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    fields = {name: data[name] for name in EDITABLE_FIELDS if name in data}
    if "name" in fields:
        fields["name"] = str(fields["name"]).strip()
        if not fields["name"]:
            raise ConnectionSettingsError("a name is required", field="name")
    if "adapter_kind" in fields and fields["adapter_kind"] not in AdapterKind.values:
        raise ConnectionSettingsError(
            f"adapter_kind must be one of {', '.join(AdapterKind.values)}", field="adapter_kind"
        )
    if "closed_period_policy" in fields and (
        fields["closed_period_policy"] not in ClosedPeriodPolicy.values
    ):
        raise ConnectionSettingsError(
            f"closed_period_policy must be one of {', '.join(ClosedPeriodPolicy.values)}",
            field="closed_period_policy",
        )
    if "secret_env" in fields:
        fields["secret_env"] = (fields["secret_env"] or "").strip()
        if fields["secret_env"] and not ENV_NAME_RE.fullmatch(fields["secret_env"]):
            raise ConnectionSettingsError(
                "secret_env must be an environment variable NAME (A-Z, 0-9, _), not a value",
                field="secret_env",
            )
        try:
            validate_secret_env(fields["secret_env"])
        except ValidationError as error:
            raise ConnectionSettingsError(error.messages[0], field="secret_env") from None
    if "settings" in fields:
        fields["settings"] = _check_settings(fields["settings"] or {})
    for name, highest in _POSITIVE_INTEGERS.items():
        if name in fields and not (
            isinstance(fields[name], int)
            and not isinstance(fields[name], bool)
            and 1 <= fields[name] <= highest
        ):
            raise ConnectionSettingsError(
                f"{name} must be a whole number from 1 to {highest}", field=name
            )
    return fields


def _check_name_free(connection: Connection) -> None:
    if Connection.objects.filter(name=connection.name).exclude(pk=connection.pk).exists():
        raise ConnectionSettingsError(
            f"a connection named {connection.name!r} exists already", field="name"
        )


def _check_one_active(connection: Connection) -> None:
    """One active connection per (entity, adapter kind): the unique constraint, said first."""
    others = Connection.objects.filter(
        entity_id=connection.entity_id, adapter_kind=connection.adapter_kind, is_active=True
    ).exclude(pk=connection.pk)
    if connection.is_active and others.exists():
        raise ConnectionSettingsError(
            f"{connection.entity.code} already has an active "
            f"{AdapterKind(connection.adapter_kind).label} connection",
            field="adapter_kind",
        )


def _check_concurrency(adapter_kind: str, max_concurrency: int) -> None:
    if adapter_kind in SINGLE_POSTER_KINDS and max_concurrency != 1:
        raise ConnectionSettingsError(
            f"a {AdapterKind(adapter_kind).label} connection posts one document at a time: "
            "its max concurrency must be 1",
            field="max_concurrency",
        )


def _check_settings(settings: Any) -> dict:
    if not isinstance(settings, dict):
        raise ConnectionSettingsError("settings must be an object")
    secret = _secret_key(settings)
    if secret:
        raise SecretInSettingsError(
            f'settings must not hold secrets ("{secret}"): put the secret in an environment '
            "variable and name it in secret_env"
        )
    for name in _RATES:
        if name in settings and not _number_between(settings[name], 0, 1):
            raise ConnectionSettingsError(f"settings.{name} must be a number from 0 to 1")
    if "latency_ms" in settings and not _number_between(settings["latency_ms"], 0, 600_000):
        raise ConnectionSettingsError("settings.latency_ms must be a number of milliseconds ≥ 0")
    for index, window in enumerate(settings.get("outage") or []):
        start = parse_datetime(str(window.get("start", ""))) if isinstance(window, dict) else None
        end = parse_datetime(str(window.get("end", ""))) if isinstance(window, dict) else None
        if start is None or end is None or end <= start:
            raise ConnectionSettingsError(
                f"settings.outage[{index}] must be {{start, end}} ISO date-times, end after start"
            )
    reject = settings.get("reject_accounts")
    if reject is not None and not (
        isinstance(reject, list) and all(isinstance(code, str) for code in reject)
    ):
        raise ConnectionSettingsError("settings.reject_accounts must be a list of account codes")
    if "sync" in settings:
        try:
            tuning_check(settings["sync"])
        except TuningError as error:
            raise ConnectionSettingsError(f"settings.sync: {error}") from None
    return settings


def _secret_key(value: Any) -> str:
    """The first key (at any depth) that looks like it holds a secret, or ""."""
    if isinstance(value, dict):
        for key, item in value.items():
            if SECRET_KEY_RE.search(str(key)):
                return str(key)
            found = _secret_key(item)
            if found:
                return found
    elif isinstance(value, list):
        for item in value:
            found = _secret_key(item)
            if found:
                return found
    return ""


def _number_between(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
