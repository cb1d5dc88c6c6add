"""The adapter of a connection: one place that knows which class serves which ERP kind."""

from __future__ import annotations

import os

from erp_sync.adapters.base import ErpAdapter, NonRetryableError
from erp_sync.adapters.sandbox import SandboxAdapter
from erp_sync.choices import AdapterKind
from erp_sync.models import SECRET_ENV_PREFIX

# Settings passed to TrytonAdapter as keyword arguments when present.
_TRYTON_OPTIONS = ("company_id", "payment_method", "timeout")


def adapter_for(connection) -> ErpAdapter:
    """A fresh adapter for `connection` (adapters are not thread-safe: one per call site).

    Raises NonRetryableError when the connection cannot be served: an unknown kind, or a
    Tryton connection whose settings or secret variable are missing. The secret is read from
    the environment variable `connection.secret_env`, never from the database.
    """
    if connection.adapter_kind == AdapterKind.SANDBOX:
        return SandboxAdapter(connection)
    if connection.adapter_kind == AdapterKind.TRYTON:
        from erp_sync.adapters.tryton import TrytonAdapter

        settings = connection.settings or {}
        missing = [name for name in ("url", "database", "login") if not settings.get(name)]
        if missing:
            raise NonRetryableError(
                f"connection {connection.name}: settings lack {', '.join(missing)}"
            )
        if connection.secret_env and not connection.secret_env.startswith(SECRET_ENV_PREFIX):
            raise NonRetryableError(
                f"connection {connection.name}: secret_env must start with {SECRET_ENV_PREFIX}"
            )
        password = os.environ.get(connection.secret_env) if connection.secret_env else None
        if password is None:
            raise NonRetryableError(
                f"connection {connection.name}: the secret variable "
                f"{connection.secret_env or '(secret_env not set)'} is not in the environment"
            )
        options = {name: settings[name] for name in _TRYTON_OPTIONS if name in settings}
        return TrytonAdapter(
            settings["url"], settings["database"], settings["login"], password, **options
        )
    raise NonRetryableError(
        f"connection {connection.name}: no adapter for {connection.adapter_kind!r}"
    )
