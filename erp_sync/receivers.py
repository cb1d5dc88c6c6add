"""erp_sync's reaction to billing's `event_applied` signal (connected in apps.ready)."""

import logging

logger = logging.getLogger(__name__)


def on_event_applied(sender, events=None, event=None, **kwargs) -> None:
    """Create the sync jobs of the applied events now (billing sends this after its commit).

    Takes `events` (a list: one per ingest or replay, all of a batch) and, for older senders,
    a single `event`. A failure is logged, not raised: the events are applied and committed
    already, and the sweeper dispatches any applied event left undispatched.
    """
    from erp_sync.actors import system_actor
    from erp_sync.services.dispatch import events_dispatch_unconnected, sync_jobs_create_for_event

    applied = list(events or []) + ([event] if event is not None else [])
    # Those stored dispatched (a type that posts nothing) need nothing: billing.signals.
    applied = [item for item in applied if item.dispatched_at is None]
    if not applied:
        return
    try:
        # Set-based: one statement marks dispatched every event that posts nothing (its type,
        # or no active connection for its entity), however many the unit of work applied.
        remaining = events_dispatch_unconnected(events=applied)
    except Exception:
        logger.exception("bulk dispatch of %d events failed; dispatching one by one", len(applied))
        remaining = applied
    if not remaining:
        return
    # Read only when a job is written: its history row names the system user.
    actor = system_actor()
    for item in remaining:
        try:
            sync_jobs_create_for_event(event=item, actor=actor)
        except Exception:
            logger.exception("dispatch of event %s failed; the sweeper will retry", item.pk)


def on_documents_posted(sender, jobs=(), actor=None, **kwargs) -> None:
    """The vendor bills of approved settlements are in the ERP: approved → posted (partners'
    service; a settlement posted or paid already is left alone). In the posting transaction."""
    from partners.services.settlements import settlements_mark_posted

    event_ids = [job.event_id for job in jobs if job.event.type == "settlement.approved"]
    if event_ids:
        settlements_mark_posted(approved_event_ids=event_ids, actor=actor)
