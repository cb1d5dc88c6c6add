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
    from erp_sync.services.dispatch import sync_jobs_create_for_event, sync_jobs_create_for_events

    applied = list(events or []) + ([event] if event is not None else [])
    # Those stored dispatched (a type that posts nothing) need nothing: billing.signals.
    applied = [item for item in applied if item.dispatched_at is None]
    if not applied:
        return
    actor = system_actor()
    try:
        # Set-based: one connection query and one bulk "dispatched" mark for the events
        # that post nothing, however many the unit of work applied.
        sync_jobs_create_for_events(events=applied, actor=actor)
        return
    except Exception:
        logger.exception("bulk dispatch of %d events failed; dispatching one by one", len(applied))
    for item in applied:
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
