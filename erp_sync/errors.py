"""Refusals of erp_sync (DomainError subclasses with stable codes).

Adapter failures are not here: they are `erp_sync.adapters.base.ErpError` kinds, because
they describe what an ERP answered, not a refused Concord operation.
"""

from __future__ import annotations

from config.errors import DomainError


class ErpSyncError(DomainError):
    """A refused erp_sync operation."""


class MappingMissingError(ErpSyncError):
    """No active mapping rule matches a document (or a line of it) on its date.

    `match` names what had no rule: entity, document_type, product_family, country, region,
    currency, partner_kind, on_date and, where it applies, the line and the missing account.
    """

    def __init__(self, message: str, *, match: dict):
        super().__init__(message, code="mapping_missing", status=400)
        self.match = match


class UnbalancedDocumentError(ErpSyncError):
    """The built document's debits and credits differ (per currency)."""

    def __init__(self, message: str, *, debit=None, credit=None):
        super().__init__(message, code="unbalanced_document", status=400)
        self.debit = debit
        self.credit = credit


class DocumentSourceError(ErpSyncError):
    """The event cannot be built into a document: a record it names is not in billing."""

    def __init__(self, message: str, *, code: str = "record_missing", field: str | None = None):
        super().__init__(message, code=code, field=field, status=400)


class MappingRuleError(ErpSyncError):
    """A mapping rule that cannot be saved (tie, inverted dates, unknown account, ...)."""


class RuleTieError(MappingRuleError):
    def __init__(self, message: str):
        super().__init__(message, code="rule_tie")


class RuleDatesError(MappingRuleError):
    def __init__(self, message: str):
        super().__init__(message, code="rule_dates_inverted", field="valid_to", status=400)


class UnknownAccountError(MappingRuleError):
    def __init__(self, message: str, *, accounts: set[str]):
        super().__init__(message, code="unknown_account", status=400)
        self.accounts = accounts


class RuleInactiveError(MappingRuleError):
    def __init__(self, message: str):
        super().__init__(message, code="rule_inactive")


class ConnectionChangeError(ErpSyncError):
    """A refused change of an ERP connection."""


class SecretInSettingsError(ConnectionChangeError):
    def __init__(self, message: str):
        super().__init__(message, code="secret_in_settings", field="settings", status=400)


class ConnectionSettingsError(ConnectionChangeError):
    def __init__(self, message: str, *, field: str = "settings"):
        super().__init__(message, code="invalid_settings", field=field, status=400)


class MaintenanceWindowError(ConnectionChangeError):
    def __init__(self, message: str):
        super().__init__(message, code="window_inverted", field="ends_at", status=400)
