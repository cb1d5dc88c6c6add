"""Logging filters wired in settings.LOGGING."""

import logging


class OneLineRefusal(logging.Filter):
    """A 403 is an answer, not a fault: Django logs PermissionDenied with its traceback
    (exc_info); keep only the one "Forbidden (…): /path" line. The refusal itself is
    recorded as a security event (config.middleware.SecurityAuditMiddleware)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", None) == 403:
            record.exc_info = None
            record.exc_text = None
        return True
