"""Refusals of the exceptions app (never named after the builtin module it shares a name with)."""

from config.errors import DomainError


class CaseError(DomainError):
    """A refused operation on a case: an illegal transition or missing input."""


class RemediationError(DomainError):
    """A remediation that is unknown for the case's subject or not allowed for the actor."""
