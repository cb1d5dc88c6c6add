"""Signals billing sends so that higher layers can react without billing importing them.

event_applied(sender=FinanceEvent, event=<FinanceEvent>)
    Sent after the transaction that applied `event` commits (first apply or a replay).
    erp_sync connects to it to create sync jobs; partners to compute accruals. Receivers
    must be idempotent: the outbox sweeper may re-send it for an event that was applied
    but never dispatched.
"""

from django.dispatch import Signal

event_applied = Signal()
