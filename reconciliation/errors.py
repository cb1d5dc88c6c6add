"""Refusals of reconciliation (DomainError subclasses with stable codes)."""

from config.errors import DomainError


class ReconciliationError(DomainError):
    """A refused reconciliation operation: a run that cannot start, an illegal decision."""
