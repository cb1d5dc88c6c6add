"""Batch ingest: up to settings.CONCORD_EVENT_BATCH_MAX events, each answered on its own.

Same answers and records as calling `event_ingest` once per item in order, but set-based:

1. every item is validated in Python (a malformed one answers 400 with its field paths
   prefixed "events[i].", and is not stored);
2. reads, before the transaction (`_Batch.prepare`): one query finds which (source, id) are
   already stored; those, and repeats inside the batch, answer 200 (same digest, the stored
   result) or 409 (different body). The references of usage.recorded, invoice.issued and
   payment.settled items (entities, customers, subscriptions, usage/invoice/payment ids, the
   invoices payments settle) are loaded in a few queries and each item is checked in
   Python, in batch order. Applicable ones take the fast path; anything unusual (unknown
   reference, duplicate record id, closed period, a key an earlier per-item event of the
   batch may change) takes the per-item path, which applies or quarantines it with its case;
3. the transaction, side by side with other batches. The claim: EVERY new event of
   the batch (fast ones already applied with their result, per-item ones `received`) is
   inserted in ONE statement in (source, id) order, `INSERT ... ON CONFLICT DO NOTHING
   RETURNING` (from one JSON parameter on PostgreSQL), with its history row. An event
   another transaction stored first is not returned and answers as a duplicate, so a
   concurrent writer never makes an event stored twice; and since a batch takes all its
   event-key locks in one ordered statement before any other write, two batches carrying
   copies of each other's events cannot deadlock;
4. the fast records are written set-based (usage records, invoices with lines, payments with
   allocations and the invoices they settle, locked in pk order and re-checked, with the
   history rows of each but usage's), then the per-item events are applied in batch order,
   each in a savepoint (billing.services.events.event_apply). Applying the fast ones first
   gives the same result because step 2 sends per item anything an earlier per-item event
   touches.

A deadlock or serialization failure still possible with other writers (PostgreSQL
40P01/40001) redoes the whole batch (reads and transaction), up to BATCH_RETRIES times with a short
jittered sleep; a record id that raced in from another transaction redoes it per item.
One `event_applied` signal carries all the events the batch applied, after the commit.

Step 2 lives in `billing.services.batch.plan`, step 4 in `billing.services.batch.writes`.
"""

import logging
import random
import time
from collections import Counter
from functools import partial

import orjson
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing.awaiting import CREATED_BY_TYPE, awaited_keys, release_on_commit
from billing.errors import BillingError
from billing.handlers.common import history_reason
from billing.models import FinanceEvent
from billing.schema import EventSchemaError, canonical_digest, validate_event
from billing.services import bulk_write
from billing.services.batch.plan import Classifier, Item, Key, Planned
from billing.services.batch.writes import FastPathRace, fast_result, settle_payments, write_fast
from billing.services.duplicates import duplicates_count
from billing.services.events import (
    STATUS_ACCEPTED,
    STATUS_CONFLICT,
    STATUS_DUPLICATE,
    actor_or_none,
    applied_result,
    conflict_response,
    event_apply,
    event_build,
)
from billing.signals import event_applied
from config.history import stamp

STATUS_INVALID = 400
# PostgreSQL deadlock_detected and serialization_failure: the whole batch is safe to redo.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
BATCH_RETRIES = 3

logger = logging.getLogger(__name__)


def _check_size(bodies) -> None:
    if not isinstance(bodies, list):
        raise BillingError(
            "events must be a list of event objects", code="invalid_type", field="events",
            status=400,
        )  # fmt: skip
    limit = settings.CONCORD_EVENT_BATCH_MAX
    if len(bodies) > limit:
        raise BillingError(
            f"a batch holds at most {limit} events, not {len(bodies)}",
            code="batch_too_large",
            field="events",
            status=400,
        )


def events_ingest_batch(*, bodies: list, actor) -> list[dict]:
    """Ingest a batch; return one result per item, in order.

    Each result is {"index", "status", ...}: 202/200 with the event's result body, 409 or
    400 with "errors". Items are all-or-nothing each; the batch commits as one transaction.
    Raises BillingError(code="batch_too_large", field="events") past the limit.
    """
    _check_size(bodies)
    results: list[dict | None] = [None] * len(bodies)
    items: list[Item] = []
    for index, body in enumerate(bodies):
        try:
            envelope = validate_event(body, path=f"events[{index}]")
        except EventSchemaError as error:
            results[index] = {
                "index": index,
                "status": STATUS_INVALID,
                "errors": [
                    {"field": e.field, "code": e.code, "message": e.message} for e in error.errors
                ],
            }
            continue
        items.append(Item(index, body, envelope, canonical_digest(body)))
    if not items:
        return results
    attempt = 0
    fast = True
    while True:
        # Only the 400s are known before the transaction; everything else is redone.
        attempt_results = list(results)
        try:
            batch = _Batch(results=attempt_results, actor=actor, fast=fast)
            # Reads and row building first, outside the transaction, so that it holds its
            # locks only while it writes.
            batch.prepare(items)
            with transaction.atomic():
                batch.write()
        except FastPathRace:
            fast = False  # a record key raced in: redo the batch item by item
            continue
        except DatabaseError as error:
            attempt += 1
            if attempt > BATCH_RETRIES or not _retryable(error):
                raise
            logger.warning("batch ingest: %s; retrying the batch (retry %d)", error, attempt)
            time.sleep(random.uniform(0.005, 0.05) * attempt)
            continue
        _duplicates_count(items, attempt_results)
        return attempt_results


def _duplicates_count(items: list[Item], results: list) -> None:
    """The batch's 200s and 409s, added to the day's counters in one statement (none when
    the batch held no duplicate)."""
    counts = Counter(
        (item.envelope.entity, results[item.index]["status"])
        for item in items
        if results[item.index]["status"] in (STATUS_DUPLICATE, STATUS_CONFLICT)
    )
    if counts:
        duplicates_count(counts)


def _retryable(error: DatabaseError) -> bool:
    """A deadlock or serialization failure: PostgreSQL rolled the work back, redo it.

    Django wraps the driver's error (psycopg's errors.DeadlockDetected / SerializationFailure)
    in its own OperationalError / DatabaseError; the driver's error is the `__cause__`.
    """
    cause = error.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    return sqlstate in _RETRYABLE_SQLSTATES


def _stored(keys: list[Key]) -> dict[Key, tuple[str, dict]]:
    """(digest, result) of the stored events among `keys`, in one query."""
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        # Two array parameters instead of a thousand, bound server-side (sent binary).
        rows = bulk_write.select_bound(
            "SELECT e.source, e.event_id, e.body_digest, e.result "
            "FROM billing_financeevent e JOIN unnest(%s::text[], %s::text[]) AS k(source, id) "
            "ON e.source = k.source AND e.event_id = k.id",
            [[source for source, _ in keys], [event_id for _, event_id in keys]],
        )
    else:
        by_source: dict[str, list[str]] = {}
        for source, event_id in keys:
            by_source.setdefault(source, []).append(event_id)
        condition = Q()
        for source, event_ids in by_source.items():
            condition |= Q(source=source, event_id__in=event_ids)
        rows = FinanceEvent.objects.filter(condition).values_list(
            "source", "event_id", "body_digest", "result"
        )
    # Django's PostgreSQL backend loads jsonb as text (JSONField parses it): parse it here.
    return {
        (source, event_id): (digest, orjson.loads(result) if isinstance(result, str) else result)
        for source, event_id, digest, result in rows
    }


def _release_awaited(fast: list[Planned]) -> None:
    """Let the events waiting for a record the fast path created go, once the batch commits:
    one query for the whole batch (the per-item path's handlers see their own waiters)."""
    created = []
    for planned in fast:
        creates = CREATED_BY_TYPE.get(planned.event.type)
        if creates is not None:
            kind, field = creates
            created.append((kind, planned.item.envelope.data[field]))
    if created:
        release_on_commit(awaited_keys(created))


def _send_all_applied(events: list[FinanceEvent]) -> None:
    if events:
        event_applied.send(sender=FinanceEvent, events=events)


class _Batch:
    def __init__(self, *, results: list, actor, fast: bool = True) -> None:
        self.results = results
        self.actor = actor
        self.fast = fast
        # What is stored for each (source, id) once handled: (digest, result).
        self.truth: dict[Key, tuple[str, dict]] = {}
        self.classifier = Classifier()

    # -- answers ---------------------------------------------------------------------------
    def _answer(self, item: Item, status: int, response: dict) -> None:
        self.results[item.index] = {"index": item.index, "status": status, **response}

    def _answer_duplicate(self, item: Item) -> None:
        digest, result = self.truth[item.key]
        if digest == item.digest:
            self._answer(item, STATUS_DUPLICATE, result)
        else:
            stored = FinanceEvent(body_digest=digest)
            source, event_id = item.key
            response = conflict_response(stored, source=source, event_id=event_id, digest=digest)
            self._answer(item, STATUS_CONFLICT, response)

    # -- the run ---------------------------------------------------------------------------
    def prepare(self, items: list[Item]) -> None:
        """Answer what is stored already; read the references and build the new events.

        Reads only, so it may run outside the batch's transaction: under READ COMMITTED a
        read inside it would see no more. What changes meanwhile is caught by the writes (a
        key claimed first is a duplicate; a record id taken redoes the batch per item; the
        invoices a payment settles are locked and read again).
        """
        firsts: dict[Key, Item] = {}
        self.repeats: list[Item] = []
        for item in items:
            if item.key in firsts:
                self.repeats.append(item)
            else:
                firsts[item.key] = item
        stored = _stored(list(firsts))
        new_items = []
        for key, item in firsts.items():
            if key in stored:
                self.truth[key] = stored[key]
                self._answer_duplicate(item)
            else:
                new_items.append(item)
        self.plan = self._plan(new_items) if new_items else []

    def write(self) -> None:
        """Store the prepared events and their records; answer every item. In a transaction."""
        if self.plan:
            self._store(self.plan)
        for item in self.repeats:
            self._answer_duplicate(item)

    def _plan(self, new_items: list[Item]) -> list[Planned]:
        self.classifier.preload(new_items)
        now = timezone.now()
        plan = []
        for item in new_items:
            fast = self.classifier.fast_records(item) if self.fast else None
            if fast is None:
                self.classifier.touch(item)
            event = event_build(
                envelope=item.envelope, body=item.body, digest=item.digest, actor=self.actor,
                received_at=now, applied=fast is not None,
            )  # fmt: skip
            verb = "received"
            if fast is not None:
                event.result = applied_result(event, fast_result(item.envelope, fast))
                verb = "applied"
            stamp(event, actor=self.actor, reason=f"{history_reason(event)}: {verb}")
            plan.append(Planned(item, event, fast))
        return plan

    def _store(self, plan: list[Planned]) -> None:
        inserted = self._claim([p.event for p in plan])
        claimed = [p for p in plan if p.item.key in inserted]
        lost = [p.item for p in plan if p.item.key not in inserted]
        if lost:
            # Another transaction stored these first (we waited for its commit).
            rows = _stored([item.key for item in lost])
            for item in lost:
                self.truth[item.key] = rows[item.key]
                self._answer_duplicate(item)
        settle_payments([p for p in claimed if p.fast and p.fast[0] == "payment"])
        fast = [p for p in claimed if p.fast is not None]
        applied = write_fast(fast, self.actor)
        _release_awaited(fast)
        for planned in claimed:
            if planned.fast is None:
                failure = event_apply(
                    event=planned.event, envelope=planned.item.envelope, actor=self.actor,
                    notify=False,
                )  # fmt: skip
                if failure is None:
                    applied.append(planned.event)
            event = planned.event
            self.truth[planned.item.key] = (event.body_digest, event.result)
            self._answer(planned.item, STATUS_ACCEPTED, event.result)
        # One signal for the whole unit of work, once it commits.
        transaction.on_commit(partial(_send_all_applied, applied))

    def _claim(self, events: list[FinanceEvent]) -> set[Key]:
        """Insert every new event of the batch in ONE statement, in (source, id) order.

        After this the batch never waits on another batch's event keys again, and the waits
        here are in one global order, so two batches sharing events cannot deadlock.
        """
        # With each new event's "+" history row (the event's own correlation_id column is its
        # history's), in the same statement on PostgreSQL.
        return bulk_write.insert_ignoring_conflicts(
            FinanceEvent, sorted(events, key=lambda e: (e.source, e.event_id)),
            ("source", "event_id"), with_history=True, default_user=actor_or_none(self.actor),
        )  # fmt: skip
