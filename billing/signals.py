"""Signals billing sends so that higher layers can react without billing importing them.

event_applied(sender=FinanceEvent, events=[<FinanceEvent>, ...])
    Sent once per committed unit of work, after its transaction commits, with every event
    that unit applied: a single ingest or replay sends a list of one, a batch ONE signal with
    all the events it applied (never an empty list). erp_sync connects to it to create sync
    jobs; partners to compute accruals. Receivers should handle the list set-based (one
    query per list, not per event) and must be idempotent: the outbox sweeper may dispatch
    an event that was applied but never dispatched.
"""

from django.dispatch import Signal

event_applied = Signal()
