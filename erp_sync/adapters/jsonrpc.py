"""A small Tryton JSON-RPC client on the standard library (no new dependency).

It owns the wire: Tryton's typed JSON (Decimal, date, datetime, bytes), the session login
(`common.db.login`, re-done once when the server answers 401), the user context, and the
classification of every failure into the adapter error classes of `erp_sync.adapters.base`.
Warnings (`UserWarning`) are raised as `TrytonWarning` so the caller can acknowledge and retry.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import http.client
import json
import re
import time
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

from erp_sync.adapters.base import (
    NonRetryableError,
    PeriodClosedError,
    RetryableError,
    UnparseableResponseError,
)

# Tryton messages (account, account_invoice) that mean "this date cannot be posted".
PERIOD_CLOSED_PATTERNS = (
    re.compile(r"create a period for the date", re.IGNORECASE),
    re.compile(r"reopen the period", re.IGNORECASE),
    re.compile(r"closed (journal-)?period", re.IGNORECASE),
    re.compile(r"must set an invoice date after", re.IGNORECASE),
    re.compile(r"fiscal year .* is closed", re.IGNORECASE),
)
RETRYABLE_SERVER_TEXT = re.compile(
    r"could not serialize|deadlock|lock|timeout|too many connections", re.IGNORECASE
)


class TrytonWarning(NonRetryableError):
    """Tryton asks for a confirmation; `key` is what res.user.warning acknowledges."""

    code = "erp_warning"

    def __init__(self, message: str, *, key: str, raw: Any = None):
        super().__init__(message, raw=raw)
        self.key = key


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, bytes):
        return {"__class__": "bytes", "base64": base64.b64encode(value).decode()}
    raise TypeError(f"cannot encode {type(value).__name__} for Tryton")


def _decode(obj: dict) -> Any:
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if kind == "datetime":
        return dt.datetime(
            obj["year"],
            obj["month"],
            obj["day"],
            obj.get("hour", 0),
            obj.get("minute", 0),
            obj.get("second", 0),
            obj.get("microsecond", 0),
        )
    if kind == "time":
        return dt.time(obj.get("hour", 0), obj.get("minute", 0), obj.get("second", 0))
    if kind == "timedelta":
        return dt.timedelta(seconds=obj["seconds"])
    if kind == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def dumps(payload: Any) -> bytes:
    return json.dumps(payload, default=_encode, separators=(",", ":")).encode()


def loads(text: str) -> Any:
    return json.loads(text, object_hook=_decode, parse_float=Decimal)


class TrytonRpc:
    """One Tryton database over JSON-RPC with a cached session. Not thread-safe."""

    def __init__(
        self,
        url: str,
        database: str,
        login: str,
        password: str,
        *,
        timeout: float = 30.0,
        language: str = "en",
    ):
        self.endpoint = f"{url.rstrip('/')}/{database}/rpc/"
        self.login_name = login
        self.password = password
        self.timeout = timeout
        self.language = language
        self.user_id: int | None = None
        self._authorization = ""
        self._context: dict[str, Any] | None = None
        self._request_id = 0
        # A time.monotonic() past which no request starts and none waits: the engine's
        # deadline for one ERP call (several requests), so the call ends within its lease.
        self.deadline: float | None = None

    # -- session ---------------------------------------------------------------------------
    def login(self) -> None:
        result = self._post(
            "common.db.login",
            [self.login_name, {"password": self.password}, self.language],
            authenticate=False,
        )
        if not isinstance(result, list) or len(result) < 2:
            raise UnparseableResponseError("unexpected login answer", raw=result)
        self.user_id, token = result[0], result[1]
        credentials = f"{self.login_name}:{self.user_id}:{token}".encode()
        self._authorization = "Session " + base64.b64encode(credentials).decode()
        self._context = None

    @property
    def context(self) -> dict[str, Any]:
        if self._context is None:
            self._context = self.call("model.res.user.get_preferences", True, {})
        return self._context

    # -- calls -----------------------------------------------------------------------------
    def call(self, method: str, *params: Any) -> Any:
        """Call `method`; logs in first, and once more if the session expired (401)."""
        if not self._authorization:
            self.login()
        try:
            return self._post(method, list(params))
        except _SessionExpired:
            self.login()
            try:
                return self._post(method, list(params))
            except _SessionExpired as exc:
                raise NonRetryableError("Tryton refused the credentials", raw=str(exc)) from exc

    def model(self, model: str, method: str, *args: Any, context: dict | None = None) -> Any:
        """`model.<model>.<method>(*args, context)` with the user's context (+ extra keys)."""
        ctx = {**self.context, **(context or {})}
        return self.call(f"model.{model}.{method}", *args, ctx)

    def search_read(
        self,
        model: str,
        domain: list,
        fields: list[str],
        *,
        limit: int | None = None,
        order: list | None = None,
        context: dict | None = None,
    ) -> list[dict]:
        return self.model(model, "search_read", domain, 0, limit, order, fields, context=context)

    def wizard(
        self,
        name: str,
        *,
        model: str,
        record_ids: list[int],
        answers: dict[str, tuple[str, dict]],
    ) -> dict:
        """Run wizard `name` on records of `model` and return its final answer.

        `answers` maps each form state the wizard may show to (button, values); values are
        merged over the defaults the wizard proposed. A form not in `answers` is an error.
        The wizard session is always deleted.
        """
        ctx = {**self.context, "active_model": model, "active_id": record_ids[0]}
        ctx["active_ids"] = list(record_ids)
        session_id, state, _end = self.call(f"wizard.{name}.create", ctx)
        data: dict[str, dict] = {}
        try:
            result = self.call(f"wizard.{name}.execute", session_id, data, state, ctx)
            while result.get("view"):
                view = result["view"]
                state = view["state"]
                if state not in answers:
                    raise NonRetryableError(
                        f"Tryton wizard {name} stopped at form {state!r}", raw=result
                    )
                button, values = answers[state]
                data[state] = {**_strip_rec_names(view.get("defaults") or {}), **values}
                result = self.call(f"wizard.{name}.execute", session_id, data, button, ctx)
        finally:
            # A wizard session left behind expires on its own; never mask the real outcome.
            with contextlib.suppress(RetryableError):
                self.call(f"wizard.{name}.delete", session_id, ctx)
        return result

    # -- wire ------------------------------------------------------------------------------
    def _post(self, method: str, params: list, *, authenticate: bool = True) -> Any:
        self._request_id += 1
        body = dumps({"id": self._request_id, "method": method, "params": params})
        request = urllib.request.Request(  # noqa: S310 - the URL is the configured ERP
            self.endpoint, data=body, method="POST"
        )
        request.add_header("Content-Type", "application/json")
        if authenticate and self._authorization:
            request.add_header("Authorization", self._authorization)
        timeout = self.timeout
        if self.deadline is not None:
            timeout = min(timeout, self.deadline - time.monotonic())
            if timeout <= 0:
                raise RetryableError(f"Tryton call timed out before {method} (deadline passed)")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                raw = response.read().decode("utf-8", errors="replace")
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc, method) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise RetryableError(f"Tryton unreachable ({method}): {exc}", raw=str(exc)) from exc
        except http.client.HTTPException as exc:
            raise RetryableError(f"Tryton broken response ({method}): {exc}") from exc
        return self._result(raw, method)

    def _http_error(self, exc: urllib.error.HTTPError, method: str) -> Exception:
        try:
            text = exc.read().decode("utf-8", errors="replace")
        except Exception:
            text = ""
        status = exc.code
        if status == 401:
            return _SessionExpired(text)
        if status == 429:
            return RetryableError(
                f"Tryton rate limit ({method})", raw=text, retry_after=_retry_after(exc)
            )
        if status >= 500:
            return RetryableError(
                f"Tryton HTTP {status} ({method})", raw=text, retry_after=_retry_after(exc)
            )
        if status == 403:
            return NonRetryableError(f"Tryton refused access ({method})", raw=text)
        return NonRetryableError(f"Tryton HTTP {status} ({method})", raw=text)

    def _result(self, raw: str, method: str) -> Any:
        try:
            payload = loads(raw)
        except ValueError as exc:
            raise UnparseableResponseError(f"Tryton answered non-JSON ({method})", raw=raw) from exc
        if not isinstance(payload, dict) or not ({"result", "error"} & payload.keys()):
            raise UnparseableResponseError(f"Tryton answer lacks result/error ({method})", raw=raw)
        error = payload.get("error")
        if error is None and "result" in payload:
            return payload["result"]
        raise classify_error(error, raw=raw)


class _SessionExpired(Exception):
    """HTTP 401: log in again (never escapes TrytonRpc)."""


def _retry_after(exc: urllib.error.HTTPError) -> float | None:
    value = exc.headers.get("Retry-After") if exc.headers else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _strip_rec_names(values: dict) -> dict:
    """Wizard defaults carry `field.` / `field.rec_name` display keys the server rejects."""
    return {key: value for key, value in values.items() if "." not in key}


def classify_error(error: Any, *, raw: Any = None) -> Exception:
    """Map Tryton's `error` member to an adapter error."""
    if not isinstance(error, list | tuple) or not error:
        return UnparseableResponseError("Tryton error in an unknown shape", raw=raw)
    name, args = error[0], error[1] if len(error) > 1 else None
    args = list(args) if isinstance(args, list | tuple) else [args]
    if name == "UserWarning":
        key = str(args[0]) if args else ""
        message = " ".join(str(a) for a in args[1:3] if a)
        return TrytonWarning(message or key, key=key, raw=raw)
    if name == "UserError":
        message = " ".join(str(a) for a in args[:2] if a)
        if any(pattern.search(message) for pattern in PERIOD_CLOSED_PATTERNS):
            return PeriodClosedError(message, raw=raw)
        return NonRetryableError(message, raw=raw)
    if name == "ConcurrencyException":
        return RetryableError(f"Tryton concurrency: {args[0] if args else ''}", raw=raw)
    if name in {"AccessError", "LoginException", "RateLimitException"}:
        retryable = name == "RateLimitException"
        cls = RetryableError if retryable else NonRetryableError
        return cls(f"Tryton {name}: {args[0] if args else ''}", raw=raw)
    # A server-side exception: error = [str(exception), traceback].
    message = str(name)
    if RETRYABLE_SERVER_TEXT.search(message):
        return RetryableError(f"Tryton server error: {message}", raw=raw)
    return NonRetryableError(f"Tryton server error: {message}", raw=raw)
