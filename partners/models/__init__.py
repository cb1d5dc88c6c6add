"""Partners' records: partners and attribution, agreements and rules, accruals, settlements."""

from partners.models.accrual import Accrual
from partners.models.agreement import Agreement, CommissionRule, CommissionTier
from partners.models.partner import Attribution, Partner
from partners.models.settlement import Settlement, SettlementLine
from partners.models.statement import SettlementStatement

__all__ = [
    "Accrual",
    "Agreement",
    "Attribution",
    "CommissionRule",
    "CommissionTier",
    "Partner",
    "Settlement",
    "SettlementLine",
    "SettlementStatement",
]
