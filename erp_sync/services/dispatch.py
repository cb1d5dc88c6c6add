"""Dispatch: an applied event becomes one sync job per active connection of its entity.

Runs from the `event_applied` receiver (after billing's commit) and from the sweeper for
events applied but never dispatched (a lost message loses nothing). Idempotent: the
(event, connection) unique constraint makes a second dispatch find the first one's jobs.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

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
    the events that post nothing: the active connections of every entity involved are read
    in one query; events whose type posts no document, or whose entity has no active
    connection, are marked dispatched in one bulk update; only the rest go through
    `sync_jobs_create_for_event`. Idempotent.
    """
    if not events:
        return []
    posting = [event for event in events if document_type_for(event.type)]
    connected: set[str] = set()
    if posting:
        connected = set(
            Connection.objects.filter(
                entity__code__in={event.entity for event in posting}, is_active=True
            ).values_list("entity__code", flat=True)
        )
    nothing_to_post = []
    jobs: list[SyncJob] = []
    for event in events:
        if document_type_for(event.type) and event.entity in connected:
            jobs.extend(sync_jobs_create_for_event(event=event, actor=actor))
        else:
            nothing_to_post.append(event.pk)
    event_mark_dispatched(event_ids=nothing_to_post)
    return jobs


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
