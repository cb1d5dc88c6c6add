"""Batch ingest: up to settings.CONCORD_EVENT_BATCH_MAX events, each answered on its own.

Same answers and records as calling `event_ingest` once per item in order, but set-based:

1. every item is validated in Python (a malformed one answers 400 with its field paths
   prefixed "events[i].", and is not stored);
2. one query finds which (source, id) are already stored; those, and repeats inside the
   batch, answer 200 (same digest, the stored result) or 409 (different body);
3. the references of usage.recorded items (entities, subscriptions, usage ids) are loaded in
   three queries and checked in Python; applicable usage is stored set-based
   (`billing.services.bulk_write`: COPY on PostgreSQL): events with
   `INSERT ... ON CONFLICT (source, event_id) DO NOTHING RETURNING`, then usage records and
   the history rows of both. An event another transaction stored first is simply
   not returned and answers as a duplicate, so a concurrent identical batch never stores an
   event twice;
4. everything else (other types, usage that must be quarantined, usage whose subscription an
   earlier item of the batch changed) goes through the per-item path in its own savepoint,
   after the pending fast items are written, so the batch order is kept.
"""

from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from billing.errors import BillingError, QuarantineError
from billing.handlers.common import history_reason
from billing.handlers.subscriptions import usage_build, usage_check
from billing.models import FinanceEvent, LegalEntity, Subscription, UsageRecord
from billing.schema import Envelope, EventSchemaError, canonical_digest, validate_event
from billing.services import bulk_write
from billing.services.events import (
    STATUS_ACCEPTED,
    STATUS_CONFLICT,
    STATUS_DUPLICATE,
    actor_or_none,
    applied_result,
    conflict_response,
    event_build,
    event_ingest_valid,
)
from billing.signals import event_applied
from config.history import history_attrs, stamp

STATUS_INVALID = 400
_FAST_TYPES = frozenset({"usage.recorded"})

Key = tuple[str, str]


@dataclass(slots=True)
class _Item:
    index: int
    body: dict
    envelope: Envelope
    digest: str

    @property
    def key(self) -> Key:
        return (self.envelope.source, self.envelope.id)


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
    items: list[_Item] = []
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
        items.append(_Item(index, body, envelope, canonical_digest(body)))
    if items:
        with transaction.atomic():
            _Batch(results=results, actor=actor).run(items)
    return results


def _stored(keys: list[Key]) -> dict[Key, FinanceEvent]:
    """The stored events among `keys`, in one query (the digest and result loaded)."""
    if not keys:
        return {}
    if connection.vendor == "postgresql":
        # Two array parameters instead of a thousand: binding is most of the cost.
        rows = FinanceEvent.objects.raw(
            "SELECT e.id, e.source, e.event_id, e.state, e.body_digest, e.result "
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
        rows = FinanceEvent.objects.filter(condition).only(
            "pk", "source", "event_id", "state", "body_digest", "result"
        )
    return {(row.source, row.event_id): row for row in rows}


def _existing_usage_ids(usage_ids: list[str]) -> set[str]:
    if not usage_ids:
        return set()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT usage_id FROM billing_usagerecord WHERE usage_id = ANY(%s::text[])",
                [usage_ids],
            )
            return {usage_id for (usage_id,) in cursor.fetchall()}
    return set(
        UsageRecord.objects.filter(usage_id__in=usage_ids).values_list("usage_id", flat=True)
    )


def _send_all_applied(events: list[FinanceEvent]) -> None:
    for event in events:
        event_applied.send(sender=FinanceEvent, event=event)


class _Batch:
    def __init__(self, *, results: list, actor) -> None:
        self.results = results
        self.actor = actor
        # What is stored for each (source, id) once handled: (digest, result).
        self.truth: dict[Key, tuple[str, dict]] = {}
        self.pending: list[tuple[_Item, Subscription]] = []
        self.touched_subscriptions: set[str] = set()
        self.seen_usage: set[str] = set()

    # -- answers ---------------------------------------------------------------------------
    def _answer(self, item: _Item, status: int, response: dict) -> None:
        self.results[item.index] = {"index": item.index, "status": status, **response}

    def _answer_duplicate(self, item: _Item) -> None:
        digest, result = self.truth[item.key]
        if digest == item.digest:
            self._answer(item, STATUS_DUPLICATE, result)
        else:
            stored = FinanceEvent(body_digest=digest)
            source, event_id = item.key
            response = conflict_response(stored, source=source, event_id=event_id, digest=digest)
            self._answer(item, STATUS_CONFLICT, response)

    # -- the run ---------------------------------------------------------------------------
    def run(self, items: list[_Item]) -> None:
        firsts: dict[Key, _Item] = {}
        repeats: list[_Item] = []
        for item in items:
            if item.key in firsts:
                repeats.append(item)
            else:
                firsts[item.key] = item
        stored = _stored(list(firsts))
        new_items = []
        for key, item in firsts.items():
            if key in stored:
                self.truth[key] = (stored[key].body_digest, stored[key].result)
                self._answer_duplicate(item)
            else:
                new_items.append(item)
        self._preload(new_items)
        for item in new_items:
            subscription = self._fast_subscription(item)
            if subscription is not None:
                self.pending.append((item, subscription))
                self.seen_usage.add(item.envelope.data["usage_id"])
            else:
                self._flush()
                self._slow(item)
        self._flush()
        for item in repeats:
            self._answer_duplicate(item)

    def _preload(self, items: list[_Item]) -> None:
        usage = [item.envelope for item in items if item.envelope.type in _FAST_TYPES]
        codes = {envelope.entity for envelope in usage}
        subscription_ids = {envelope.data["subscription_id"] for envelope in usage}
        usage_ids = [envelope.data["usage_id"] for envelope in usage]
        self.entities = {e.code: e for e in LegalEntity.objects.filter(code__in=codes)}
        self.subscriptions = {
            s.subscription_id: s
            for s in Subscription.objects.select_related("customer").filter(
                subscription_id__in=subscription_ids
            )
        }
        self.existing_usage = _existing_usage_ids(usage_ids)

    def _fast_subscription(self, item: _Item) -> Subscription | None:
        """The subscription of an applicable usage item, else None (→ the per-item path)."""
        envelope = item.envelope
        if envelope.type not in _FAST_TYPES:
            return None
        data = envelope.data
        if data["subscription_id"] in self.touched_subscriptions:
            return None
        usage_id = data["usage_id"]
        subscription = self.subscriptions.get(data["subscription_id"])
        try:
            usage_check(
                envelope,
                entity=self.entities.get(envelope.entity),
                subscription=subscription,
                usage_exists=usage_id in self.existing_usage or usage_id in self.seen_usage,
            )
        except QuarantineError:
            return None  # the per-item path quarantines it and opens the case
        return subscription

    def _slow(self, item: _Item) -> None:
        outcome = event_ingest_valid(
            envelope=item.envelope, body=item.body, digest=item.digest, actor=self.actor
        )
        self.truth[item.key] = (outcome.event.body_digest, outcome.event.result)
        if outcome.status == STATUS_ACCEPTED:
            self._answer(item, STATUS_ACCEPTED, outcome.response)
        else:
            self._answer_duplicate(item)
        data = item.envelope.data
        if item.envelope.type.startswith("subscription."):
            self.touched_subscriptions.add(data["subscription_id"])
        if item.envelope.type == "usage.recorded":
            self.seen_usage.add(data["usage_id"])

    def _flush(self) -> None:
        """Write the pending applicable usage items set-based (see the module docstring)."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        actor = self.actor
        events = []
        now = timezone.now()
        for item, subscription in pending:
            event = event_build(
                envelope=item.envelope,
                body=item.body,
                digest=item.digest,
                actor=actor,
                received_at=now,
            )
            event.apply()
            event.apply_attempts = 1
            event.result = applied_result(
                event,
                {
                    "usage": item.envelope.data["usage_id"],
                    "subscription": subscription.subscription_id,
                },
            )
            stamp(event, actor=actor, reason=f"{history_reason(event)}: applied")
            events.append(event)
        # A stable order of inserts keeps two concurrent batches from deadlocking.
        ordered = sorted(events, key=lambda e: (e.source, e.event_id))
        attrs = history_attrs()
        user = actor_or_none(actor)
        try:
            with transaction.atomic():
                inserted = bulk_write.insert_ignoring_conflicts(
                    FinanceEvent, ordered, ("source", "event_id")
                )
                usages = []
                for (item, subscription), event in zip(pending, events, strict=True):
                    if item.key in inserted:
                        usage = usage_build(event, item.envelope, subscription)
                        stamp(usage, actor=actor, reason=history_reason(event))
                        usages.append(usage)
                bulk_write.insert(UsageRecord, usages)
                bulk_write.history_insert(
                    UsageRecord, usages, default_user=user, custom_historical_attrs=attrs
                )
                applied = [event for event in events if event.pk is not None]
                # The event's own correlation_id column is its history's (no extra attrs).
                bulk_write.history_insert(FinanceEvent, applied, default_user=user)
        except IntegrityError:
            # A usage id raced in from another transaction: redo these one by one.
            for item, _ in pending:
                self._slow(item)
            return
        lost = [item for item, _ in pending if item.key not in inserted]
        if lost:
            stored = _stored([item.key for item in lost])
            for item in lost:
                row = stored[item.key]
                self.truth[item.key] = (row.body_digest, row.result)
                self._answer_duplicate(item)
        for (item, _), event in zip(pending, events, strict=True):
            if event.pk is not None:
                self.truth[item.key] = (item.digest, event.result)
                self._answer(item, STATUS_ACCEPTED, event.result)
        transaction.on_commit(partial(_send_all_applied, applied))
