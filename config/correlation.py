"""The correlation id of the current unit of work (request or Celery task).

It is accepted from `X-Correlation-ID` or generated, echoed on the response, added to every
log line, carried in Celery task headers and stamped on history rows.
"""

import logging
import re
import uuid
from contextvars import ContextVar

_current: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_VALID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def clean_correlation_id(value: str | None) -> str:
    """A caller's id if it is safe to log and echo (≤128 of [A-Za-z0-9._:-]), else a new one."""
    if value and _VALID.match(value):
        return value
    return new_correlation_id()


def get_correlation_id() -> str | None:
    return _current.get()


def set_correlation_id(value: str | None):
    return _current.set(value)


def reset_correlation_id(token) -> None:
    _current.reset(token)


class CorrelationIdLogFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _current.get()
        return True
