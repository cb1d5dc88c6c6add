"""Refusals of the billing app.

`QuarantineError` is not a `DomainError`: a handler raises it when a well-formed event cannot
be applied to the records as they stand; the ingest service catches it and quarantines the
event with an exception case. `BillingError` is what billing services refuse with (mapped by
the API to 400/409).
"""

from config.errors import DomainError


class BillingError(DomainError):
    """A refused billing operation (replay of a discarded event, a batch too large, ...)."""


class QuarantineError(Exception):
    """The event is well-formed but cannot be applied now.

    `reason` is a `billing.choices.QuarantineReason` (also the kind of the case it opens),
    `detail` says what exactly is wrong, `scope` carries the case scope keys (entity,
    customer, partner, period "YYYY-MM") that are known. `awaits` is (kind, record id) when
    the only problem is that this record has not arrived yet: the event then waits for it.
    """

    def __init__(
        self,
        reason: str,
        detail: str,
        scope: dict | None = None,
        *,
        awaits: tuple[str, str] | None = None,
    ):
        super().__init__(f"{reason}: {detail}")
        self.reason = str(reason)
        self.detail = detail
        self.scope = {k: v for k, v in (scope or {}).items() if v}
        self.awaits = awaits
