"""Dispatch: an applied event becomes one sync job per active connection of its entity.

Runs from the `event_applied` receiver (after billing's commit) and from the sweeper for
events applied but never dispatched (a lost message loses nothing). Idempotent: the
(event, connection) unique constraint makes a second dispatch find the first one's jobs.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import Exists, OuterRef, Q

from billing.models import FinanceEvent
from billing.services import event_mark_dispatched
from config.history import stamp
from erp_sync.builders import build_document
from erp_sync.choices import HoldReason, SyncJobState
from erp_sync.documents import (
    document_to_json,
    document_type_for,
    external_id_for,
    parent_external_id_for,
)
from erp_sync.errors import ErpSyncError
from erp_sync.models import Connection, SyncJob
from erp_sync.services.batch_writes import events_mark_dispatched_unconnected
from erp_sync.services.common import (
    enqueue_post,
    erp_status_sync,
    job_case_open,
    logger,
    save_job,
)


def sync_jobs_create_for_event(*, event: FinanceEvent, actor) -> list[SyncJob]:
    """Create (or find) the sync jobs of `event`, build their documents, enqueue them.

    One job per active connection of the event's entity, for event types that post a
    document. A document that cannot be built (no mapping rule, unbalanced, a record
    missing) makes a dead job with a case of that code; a payment / credit note / refund /
    write-off whose parent job on the same connection is not posted is held
    `awaiting_parent`. Marks the event dispatched. Idempotent.
    """
    document_type = document_type_for(event.type)
    with transaction.atomic():
        jobs: list[SyncJob] = []
        if document_type:
            connections = Connection.objects.filter(
                entity__code=event.entity, is_active=True
            ).order_by("pk")
            for connection in connections:
                jobs.append(_job_for(event, connection, document_type, actor=actor))
        event_mark_dispatched(event_ids=[event.pk])
    return jobs


def sync_jobs_create_for_events(*, events: list[FinanceEvent], actor) -> list[SyncJob]:
    """Dispatch the events one unit of work applied (the `event_applied` receiver's call).

    Same outcome as `sync_jobs_create_for_event` per event, at a cost that does not grow with
    the events that post nothing: those are marked dispatched in one statement
    (`events_dispatch_unconnected`); only the rest go through `sync_jobs_create_for_event`.
    An event dispatched already is left alone. Idempotent.
    """
    jobs: list[SyncJob] = []
    for event in events_dispatch_unconnected(events=events):
        jobs.extend(sync_jobs_create_for_event(event=event, actor=actor))
    return jobs


def events_dispatch_unconnected(*, events: list[FinanceEvent]) -> list[FinanceEvent]:
    """Mark dispatched, in ONE statement, the `events` that need no sync job: a type that
    posts no document, or an entity with no active connection (checked in the same UPDATE).

    Returns the events still undispatched after it (each needs `sync_jobs_create_for_event`,
    which is idempotent, so one dispatched concurrently meanwhile is harmless). Needs no
    actor: nothing it writes has a history row. Idempotent.
    """
    if not events:
        return []
    # Measured (profile_single.py, an invoice without an ERP connection): the connections
    # read, the system user and BEGIN/UPDATE/COMMIT were 5 of the request's 7 statements.
    quiet = [event.pk for event in events if not document_type_for(event.type)]
    event_ids = [event.pk for event in events]
    if db_connection.vendor == "postgresql":
        marked = events_mark_dispatched_unconnected(event_ids=event_ids, quiet_ids=quiet)
    else:
        connected = Connection.objects.filter(entity__code=OuterRef("entity"), is_active=True)
        marked = event_mark_dispatched(
            event_ids=event_ids, where=Q(pk__in=quiet) | ~Exists(connected)
        )
    posting = [event for event in events if document_type_for(event.type)]
    if marked == len(events) or not posting:
        return []
    if len(posting) == 1:
        return posting
    left = set(
        FinanceEvent.objects.filter(
            pk__in=[event.pk for event in posting], dispatched_at__isnull=True
        ).values_list("pk", flat=True)
    )
    return [event for event in posting if event.pk in left]


def _job_for(event: FinanceEvent, connection: Connection, document_type: str, *, actor) -> SyncJob:
    existing = SyncJob.objects.filter(event=event, connection=connection).first()
    if existing is not None:
        return existing
    external_id = external_id_for(event=event, connection=connection)
    job = SyncJob(
        event=event,
        connection=connection,
        document_type=document_type,
        external_id=external_id,
        parent_external_id=parent_external_id_for(event=event, connection=connection),
    )
    rules = []
    failure: ErpSyncError | None = None
    try:
        built = build_document(event=event, connection=connection)
    except ErpSyncError as error:
        failure = error
    else:
        job.document = document_to_json(built.document)
        job.parent_external_id = built.document.parent_external_id or job.parent_external_id
        rules = built.rules
    stamp(job, actor=actor, reason=f"created for event {event.source}/{event.event_id}"[:100])
    try:
        with transaction.atomic():
            job.save(force_insert=True)
    except IntegrityError:
        # A concurrent dispatch created it first (or another event claims the external id).
        found = SyncJob.objects.filter(event=event, connection=connection).first()
        if found is None:
            found = SyncJob.objects.get(connection=connection, external_id=external_id)
            logger.warning(
                "external id already used by another event's job",
                extra={"event": event.pk, "job": found.pk},
            )
        return found
    if rules:
        job.mapping_rules.set(rules)

    if failure is not None:
        job.dead_letter(error=failure.message[:2000], code=failure.code)
        save_job(job, actor=actor, reason=f"dead: {failure.code}")
        erp_status_sync(job, actor=actor)
        job_case_open(
            job,
            kind=failure.code,
            title=f"{document_type} of event {event.event_id} cannot be built: {failure.code}",
            detail={"error": failure.message, "match": getattr(failure, "match", None)},
            actor=actor,
        )
        return job
    if job.parent_external_id and _parent_unposted(job):
        job.hold(reason=HoldReason.AWAITING_PARENT)
        save_job(job, actor=actor, reason="held: awaiting_parent")
        erp_status_sync(job, actor=actor)
        return job
    erp_status_sync(job, actor=actor)
    enqueue_post([job.pk])
    return job


def _parent_unposted(job: SyncJob) -> bool:
    """The job's parent is a job on the same connection that has not posted yet.

    A parent Concord has no job for (posted before Concord existed) is left to the ERP: the
    adapter answers ParentMissingError if it really is missing, and the job is held then.
    """
    return (
        SyncJob.objects.filter(connection_id=job.connection_id, external_id=job.parent_external_id)
        .exclude(state=SyncJobState.POSTED)
        .exists()
    )
