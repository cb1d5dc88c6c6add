"""Ingest, replay and discard of canonical finance events (DESIGN.md "The flow of one event").

An event is validated (malformed → `EventSchemaError`, nothing stored), deduplicated on
(source, id) by the database's unique index, stored, and applied by its handler in the same
transaction: `applied`, or `quarantined` with an exception case when it is well-formed but
not applicable. `event_applied` is sent once the applying transaction commits.
"""

from collections import Counter
from dataclasses import dataclass
from functools import cache, partial

from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from billing.choices import FinanceEventState, QuarantineReason
from billing.errors import BillingError, QuarantineError
from billing.handlers import handler_for
from billing.handlers.common import history_reason
from billing.models import FinanceEvent
from billing.schema import Envelope, EventSchemaError, canonical_digest, validate_event
from billing.selectors import correction_root
from billing.services import bulk_write
from billing.services.awaiting import awaiting_until, event_await, event_await_clear
from billing.services.duplicates import duplicates_count
from billing.signals import event_applied, outbox_wanted
from config.correlation import get_correlation_id
from config.fsm import transition_states
from config.history import stamp
from config.instances import build
from exceptions.services import case_open_or_bump, cases_resolve_for_subject

# Severity of the case a quarantine opens, by reason; anything else is medium.
SEVERITY_BY_REASON = {
    QuarantineReason.CLOSED_PERIOD: "high",
    QuarantineReason.CURRENCY_MISMATCH: "high",
    QuarantineReason.OVER_CREDIT: "high",
    QuarantineReason.OVER_REFUND: "high",
    QuarantineReason.OVER_WRITE_OFF: "high",
}

# The columns applying an event changes (the transitions and event_apply): its save writes
# only these, not the body (measured on ingest_single: the whole-row UPDATE rewrote the body).
APPLY_FIELDS = (
    "state",
    "applied_at",
    "quarantine_reason",
    "quarantine_detail",
    "apply_attempts",
    "result",
)

STATUS_ACCEPTED = 202
STATUS_DUPLICATE = 200
STATUS_CONFLICT = 409
# SQLSTATE of a transaction PostgreSQL aborted to break a deadlock (event_ingest retries once).
DEADLOCK_DETECTED = "40P01"


@dataclass
class IngestOutcome:
    """What one ingest answered: 202 (stored now), 200 (duplicate) or 409 (conflict)."""

    status: int
    event: FinanceEvent
    response: dict


def actor_or_none(actor):
    return actor if actor is not None and getattr(actor, "pk", None) else None


@cache
def applied_on_insert() -> str:
    """The state a new event is stored in when its effects are stored with it: the target of
    the `apply` transition as FinanceEvent declares it. Raises ImproperlyConfigured when
    `apply` does not leave the state a new event starts in (then an event may not be stored
    applied without running the transition)."""
    apply = transition_states(FinanceEvent, "apply")
    initial = str(FinanceEvent._meta.get_field(apply.field).get_default())
    if initial not in apply.sources:
        raise ImproperlyConfigured(
            f"FinanceEvent.apply leaves {apply.sources}, not the initial state {initial!r}"
        )
    return apply.target


def event_build(
    *, envelope: Envelope, body: dict, digest: str, actor, received_at=None, applied=False
) -> FinanceEvent:
    """A received, unsaved FinanceEvent for a validated body.

    With applied=True: the event as `apply()` leaves it, for a caller that stores the event
    and its records in one statement each (the batch fast path), so it is never stored
    `received`; that saves a transition per event, not a step of the state machine: the
    state is the target `FinanceEvent.apply` declares (`applied_on_insert`).

    `correlation_id` is the event's own `correlationid`, else the request's X-Correlation-ID.
    An event of a type no receiver subscribed to (billing.signals.outbox_subscribe) is
    stored dispatched: nothing waits for it in the outbox.
    """
    received_at = received_at or timezone.now()
    if applied:
        state = {"state": applied_on_insert(), "applied_at": received_at, "apply_attempts": 1}
    else:
        state = {}
    return build(
        FinanceEvent,
        **state,
        source=envelope.source,
        event_id=envelope.id,
        type=envelope.type,
        specversion=envelope.specversion,
        event_time=envelope.time,
        entity=envelope.entity,
        correlation_id=envelope.correlationid or get_correlation_id() or "",
        body=body,
        body_digest=digest,
        received_by_id=actor.pk if actor_or_none(actor) else None,
        received_at=received_at,
        dispatched_at=None if outbox_wanted(envelope.type) else received_at,
    )


def applied_result(event: FinanceEvent, records: dict) -> dict:
    return {
        "source": event.source,
        "id": event.event_id,
        "type": event.type,
        "state": event.state,
        "records": records,
    }


def quarantined_result(event: FinanceEvent, case) -> dict:
    return {
        "source": event.source,
        "id": event.event_id,
        "type": event.type,
        "state": event.state,
        "quarantine_reason": event.quarantine_reason,
        "detail": event.quarantine_detail,
        "case": {"id": case.pk, "kind": case.kind, "severity": case.severity, "state": case.state},
    }


def conflict_response(stored: FinanceEvent | None, *, source: str, event_id: str, digest: str):
    stored_digest = stored.body_digest if stored is not None else digest
    return {
        "errors": [
            {
                "field": "id",
                "code": "conflicting_duplicate",
                "message": f"event {source}/{event_id} was already received with a different "
                f"body (stored digest {stored_digest})",
            }
        ],
        "stored_digest": stored_digest,
    }


def duplicate_outcome(stored: FinanceEvent, digest: str) -> IngestOutcome:
    """200 with the stored result when the body is the same, else 409 naming the stored digest."""
    if stored.body_digest == digest:
        return IngestOutcome(STATUS_DUPLICATE, stored, stored.result)
    response = conflict_response(
        stored, source=stored.source, event_id=stored.event_id, digest=digest
    )
    return IngestOutcome(STATUS_CONFLICT, stored, response)


def _send_applied(event: FinanceEvent) -> None:
    event_applied.send(sender=FinanceEvent, events=[event])


def send_applied_on_commit(event: FinanceEvent) -> None:
    transaction.on_commit(partial(_send_applied, event))


def _open_case(event: FinanceEvent, error: QuarantineError, actor, *, waiting=None):
    scope = error.scope
    detail = {
        "detail": error.detail,
        "source": event.source,
        "id": event.event_id,
        "type": event.type,
    }
    what = QuarantineReason(error.reason).label
    if waiting is not None:
        # It needs nobody yet: it is applied when the record arrives, or escalates at `until`.
        what = f"Waiting for {waiting.kind} {waiting.record_id}"
        detail["waiting_for"] = {
            "kind": waiting.kind,
            "id": waiting.record_id,
            "since": waiting.since.isoformat(),
            "until": awaiting_until(waiting).isoformat(),
        }
    # A corrected copy's problem is the same business fact's: its case is the chain's, on
    # the ingested event (billing.services.corrections).
    return case_open_or_bump(
        subject=correction_root(event),
        kind=error.reason,
        severity=SEVERITY_BY_REASON.get(error.reason, "medium"),
        title=f"{what}: {event.type} {event.source}/{event.event_id}",
        detail=detail,
        due_at=awaiting_until(waiting) if waiting is not None else None,
        entity=scope.get("entity", event.entity),
        customer=scope.get("customer", ""),
        partner=scope.get("partner", ""),
        period=scope.get("period", ""),
        actor=actor_or_none(actor),
    )


def event_apply(
    *,
    event: FinanceEvent,
    envelope: Envelope,
    actor,
    notify: bool = True,
    resolve_reason: str = "event replayed and applied",
) -> QuarantineError | None:
    """Run the event's handler in a savepoint and record the outcome on the (locked) event.

    received → applied | quarantined; quarantined → applied (replay) or stays quarantined
    with its reason refreshed and its case bumped. An event quarantined only because a
    record it names has not arrived (QuarantineError.awaits) waits for it
    (billing.services.awaiting); its case is due when the wait ends. Returns the
    QuarantineError, or None when applied (its cases resolved with `resolve_reason` on a
    replay). Must run inside the caller's transaction.atomic. With notify=False the caller
    sends `event_applied` itself (a batch sends one signal for all its events).
    """
    replaying = event.state == FinanceEventState.QUARANTINED
    previous_reason = event.quarantine_reason
    event.apply_attempts += 1
    try:
        with transaction.atomic():
            records = handler_for(event.type)(event, envelope, actor)
    except QuarantineError as error:
        if replaying:
            # Not a transition: the event stays quarantined, for a possibly new reason.
            event.quarantine_reason = error.reason
            event.quarantine_detail = error.detail
        else:
            event.quarantine(error.reason, error.detail)
        if replaying and previous_reason and previous_reason != error.reason:
            cases_resolve_for_subject(
                subject=correction_root(event),
                actor=actor_or_none(actor),
                reason=f"replay no longer fails for {previous_reason}",
                kinds=[previous_reason],
            )
        waiting = event_await(event=event, awaits=error.awaits, replaying=replaying)
        case = _open_case(event, error, actor, waiting=waiting)
        event.result = quarantined_result(event, case)
        verb = "still quarantined" if replaying else "quarantined"
        stamp(event, actor=actor, reason=f"{history_reason(event)}: {verb}, {error.reason}")
        event.save(update_fields=APPLY_FIELDS)
        return error
    _record_applied(event, records, actor=actor, replaying=replaying)
    if replaying:
        event_await_clear(event=event)
        cases_resolve_for_subject(
            subject=correction_root(event), actor=actor_or_none(actor), reason=resolve_reason
        )
    if notify:
        send_applied_on_commit(event)
    return None


def _record_applied(event: FinanceEvent, records: dict, *, actor, replaying: bool) -> None:
    """The handler applied the event: its transition, result and "~" history row."""
    if replaying:
        event.replay()
    else:
        event.apply()
    event.result = applied_result(event, records)
    verb = "replayed and applied" if replaying else "applied"
    stamp(event, actor=actor, reason=f"{history_reason(event)}: {verb}")
    event.save(update_fields=APPLY_FIELDS)


def _claim(*, envelope: Envelope, body: dict, digest: str, actor) -> FinanceEvent | None:
    """Store the event `received` with its "+" history row in one statement; None when
    another transaction stored (source, id) first.

    `INSERT ... ON CONFLICT DO NOTHING RETURNING`: when another transaction holds (source,
    id) the unique index makes the insert wait for it; if it commits nothing is inserted and
    its row is visible to the next statement; if it rolls back, the row is ours.
    """
    event = event_build(envelope=envelope, body=body, digest=digest, actor=actor)
    stamp(event, actor=actor, reason=f"{history_reason(event)}: received")
    claimed = bulk_write.insert_ignoring_conflicts(
        FinanceEvent, [event], ("source", "event_id"), with_history=True,
        default_user=actor_or_none(actor),
    )  # fmt: skip
    return event if claimed else None


def stored_duplicate(envelope: Envelope, digest: str) -> IngestOutcome:
    """The answer to an event whose (source, id) is stored: 200 or 409."""
    stored = FinanceEvent.objects.get(source=envelope.source, event_id=envelope.id)
    return duplicate_outcome(stored, digest)


def event_ingest_valid(*, envelope: Envelope, body: dict, digest: str, actor) -> IngestOutcome:
    """Store and apply an already validated event; see `event_ingest`.

    One transaction and no savepoint when the event applies, which nearly every event does:
    the claim is one statement (`_claim`), and the handler runs directly in the transaction.
    When it refuses the event (QuarantineError) that whole transaction is rolled back, so
    nothing of the attempt remains, and a second transaction stores the event and runs
    `event_apply`, which quarantines it with its case (or applies it, should the records
    have changed in between). Measured on ingest_single: the two savepoints and the save()
    inside the first were 6 of the 14 statements of a usage event.
    """
    try:
        with transaction.atomic():
            event = _claim(envelope=envelope, body=body, digest=digest, actor=actor)
            if event is None:
                return stored_duplicate(envelope, digest)
            event.apply_attempts += 1
            records = handler_for(event.type)(event, envelope, actor)
            _record_applied(event, records, actor=actor, replaying=False)
            send_applied_on_commit(event)
            return IngestOutcome(STATUS_ACCEPTED, event, event.result)
    except QuarantineError:
        pass  # rolled back: store it again and quarantine it, with its case
    with transaction.atomic():
        event = _claim(envelope=envelope, body=body, digest=digest, actor=actor)
        if event is None:
            return stored_duplicate(envelope, digest)
        event_apply(event=event, envelope=envelope, actor=actor)
        return IngestOutcome(STATUS_ACCEPTED, event, event.result)


def event_ingest(*, body: dict, actor) -> IngestOutcome:
    """Validate, store and apply one canonical event.

    Returns 202 (stored now, applied or quarantined with a case), 200 (the same (source, id)
    and body again: the stored result), or 409 (same (source, id), different body; code
    "conflicting_duplicate", naming the stored digest). Raises `EventSchemaError` for a
    malformed event, storing nothing. Safe under concurrency: the (source, id) unique index
    decides which caller stores the event; the others answer 200/409. `event_applied` is
    sent on commit when the event was applied. A 200 or 409 adds to the day's
    DuplicateDeliveryCount (one statement, after the ingest's transaction).
    """
    from billing.services.fast_one import event_ingest_fast  # it builds on this module

    envelope = validate_event(body)
    digest = canonical_digest(body)
    for attempt in (1, 2):
        try:
            outcome = event_ingest_fast(
                envelope=envelope, body=body, digest=digest, actor=actor
            ) or event_ingest_valid(envelope=envelope, body=body, digest=digest, actor=actor)
            break
        except OperationalError as error:
            # The same payment delivered twice at once, one copy on the fast path (its
            # invoices locked, then its key) and one on the slow (its key, then the invoices):
            # PostgreSQL aborted this copy, which wrote nothing. Once more, it finds the other.
            if attempt == 2 or connection.in_atomic_block or not _deadlock(error):
                raise
    if outcome.status != STATUS_ACCEPTED:
        duplicates_count(Counter({(envelope.entity, outcome.status): 1}))
    return outcome


def _deadlock(error: OperationalError) -> bool:
    """PostgreSQL's deadlock_detected (40P01) under Django's OperationalError."""
    return getattr(error.__cause__, "sqlstate", None) == DEADLOCK_DETECTED


def _stored_envelope(event: FinanceEvent) -> Envelope:
    try:
        return validate_event(event.body)
    except EventSchemaError as error:
        raise BillingError(
            f"the stored body of {event} no longer passes the schema check: {error}",
            code="invalid_stored_body",
        ) from None


def event_replay(
    *, event: FinanceEvent, actor, reason: str = "event replayed and applied"
) -> FinanceEvent:
    """Re-run a quarantined event's handler from its stored body.

    Applied → `replay` transition, its cases resolved with `reason`, `event_applied` on
    commit. Still not
    applicable → stays quarantined (reason refreshed, case bumped, both committed) and raises
    BillingError(code="still_quarantined") saying why. Idempotent on an applied event (returns
    it unchanged). Raises BillingError(code="not_replayable") for a discarded or received one.
    """
    with transaction.atomic():
        event = FinanceEvent.objects.select_for_update().get(pk=event.pk)
        if event.state == FinanceEventState.APPLIED:
            return event
        if event.state != FinanceEventState.QUARANTINED:
            raise BillingError(
                f"event {event} is {event.state}; only a quarantined event can be replayed",
                code="not_replayable",
            )
        failure = event_apply(
            event=event, envelope=_stored_envelope(event), actor=actor, resolve_reason=reason
        )
    if failure is not None:
        raise BillingError(
            f"event {event} is still quarantined: {failure.reason}: {failure.detail}",
            code="still_quarantined",
        )
    return event


def events_replay(*, events: QuerySet, actor) -> dict:
    """Replay every quarantined event of `events`, each in its own transaction.

    Returns counts {"applied", "still_quarantined", "skipped"} (skipped: not quarantined).
    """
    counts = {"applied": 0, "still_quarantined": 0, "skipped": 0}
    for event in events.order_by("id").only("pk", "state").iterator():
        if event.state != FinanceEventState.QUARANTINED:
            counts["skipped"] += 1
            continue
        try:
            event_replay(event=event, actor=actor)
        except BillingError as error:
            key = "still_quarantined" if error.code == "still_quarantined" else "skipped"
            counts[key] += 1
            continue
        counts["applied"] += 1
    return counts


def event_discard(*, event: FinanceEvent, actor, reason: str) -> FinanceEvent:
    """A person decides a quarantined event is never to be applied: quarantined → discarded.

    Its open cases are resolved with the reason. Idempotent on a discarded event. Raises
    BillingError(code="reason_required") for a blank reason and
    BillingError(code="illegal_transition") for a received or applied event.
    """
    reason = (reason or "").strip()
    if not reason:
        raise BillingError(
            "a reason is required to discard an event",
            code="reason_required",
            field="reason",
            status=400,
        )
    with transaction.atomic():
        event = FinanceEvent.objects.select_for_update().get(pk=event.pk)
        if event.state == FinanceEventState.DISCARDED:
            return event
        if event.state != FinanceEventState.QUARANTINED:
            raise BillingError(
                f"event {event} is {event.state}; only a quarantined event can be discarded",
                code="illegal_transition",
            )
        event.discard()
        event.result = {**event.result, "state": event.state}
        stamp(event, actor=actor, reason=f"{history_reason(event)}: discarded: {reason}")
        event.save()
        event_await_clear(event=event)
        cases_resolve_for_subject(
            subject=correction_root(event),
            actor=actor_or_none(actor),
            reason=f"event discarded: {reason}",
        )
    return event
