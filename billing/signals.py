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

# The event types some receiver must act on (erp_sync: those that post a document). Only
# those wait in the outbox (dispatched_at empty until the receiver has acted, re-sent by the
# sweeper if it never did); an event of any other type is stored already dispatched, so the
# log of usage does not pay an outbox update per event.
_outbox_types: set[str] = set()


def outbox_subscribe(event_types) -> None:
    """Declare that a receiver of `event_applied` must act on events of `event_types`.

    Call from AppConfig.ready(), before any event is received.
    """
    _outbox_types.update(event_types)


def outbox_wanted(event_type: str) -> bool:
    """Whether an event of `event_type` waits in the outbox for a receiver."""
    return event_type in _outbox_types
