"""Partners' domain errors (config.errors.DomainError subclasses)."""

from config.errors import DomainError


class PartnerError(DomainError):
    """A refused partners operation; `field` names the input at fault."""


class AgreementInvalid(PartnerError):
    """An agreement or rule that cannot be stored (400)."""

    status = 400


class AttributionInvalid(PartnerError):
    """An attribution that cannot be stored (400)."""

    status = 400


class SettlementError(PartnerError):
    """A settlement transition refused by its state, its approver or its freshness (409)."""
