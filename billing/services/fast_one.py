"""The one-event endpoint's fast path for usage.recorded (the commonest event by far).

`usage_ingest_fast` stores an applicable usage event as `event_ingest_valid` would, in two
statements instead of seven (measured on ingest_single, 2026-12-07: docs/benchmarks.md):

1. one read: the subscription with its customer's legal entity code, and whether the usage
   id is taken (no lock: the slow path takes none either);
2. the handler's checks (`usage_check`) in Python; the event built `received` and stamped
   (its "+" history row), then `FinanceEvent.apply` (django-fsm) and the result stamped
   (its "~" history row), the usage record built by `usage_build`;
3. one statement (`bulk_one.insert_with_history`): the event, its two history rows, the usage
   record; on a (source, id) another request stored first, nothing, and the answer is the
   duplicate's, as the slow path gives it.

Anything else returns None and the caller takes the slow path, which gives the answer: a
quarantine (unknown subscription, cancelled, usage id taken, another entity than the
customer's), a usage id that raced in meanwhile (IntegrityError, nothing written), SQLite.
The rows written are the slow path's, field for field but ids and clock times:
`tests/billing/test_event_ingest_fast_equivalence.py`.
"""

import copy
from contextlib import nullcontext
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from billing.errors import QuarantineError
from billing.handlers.common import history_reason
from billing.handlers.subscriptions import usage_build, usage_check
from billing.models import Customer, LegalEntity, Subscription, UsageRecord
from billing.schema import Envelope
from billing.services import bulk_one, bulk_write
from billing.services.batch.plan import CustomerRef, SubscriptionRef
from billing.services.events import (
    STATUS_ACCEPTED,
    IngestOutcome,
    actor_or_none,
    applied_result,
    event_build,
    send_applied_on_commit,
    stored_duplicate,
)
from config.history import stamp


@cache
def _usage_refs_sql() -> str:
    """The subscription (as SubscriptionRef), its customer's entity code and "is the usage id
    taken?", by subscription id; from the models' _meta."""
    qn = connection.ops.quote_name
    s, c, e, u = (m._meta for m in (Subscription, Customer, LegalEntity, UsageRecord))

    def col(meta, name: str) -> str:
        return qn(meta.get_field(name).column)

    # Names come from model metadata, never from input.
    return (
        f"SELECT s.{col(s, 'id')}, s.{col(s, 'subscription_id')}, s.{col(s, 'state')}, "  # noqa: S608
        f"s.{col(s, 'currency')}, s.{col(s, 'partner_code')}, c.{col(c, 'customer_id')}, "
        f"e.{col(e, 'code')}, EXISTS (SELECT 1 FROM {qn(u.db_table)} "
        f"WHERE {col(u, 'usage_id')} = %s) "
        f"FROM {qn(s.db_table)} s "
        f"JOIN {qn(c.db_table)} c ON c.{col(c, 'id')} = s.{col(s, 'customer')} "
        f"JOIN {qn(e.db_table)} e ON e.{col(e, 'id')} = c.{col(c, 'entity')} "
        f"WHERE s.{col(s, 'subscription_id')} = %s"
    )


def usage_ingest_fast(
    *, envelope: Envelope, body: dict, digest: str, actor
) -> IngestOutcome | None:
    """Store and apply a validated usage.recorded event in one statement; None when it needs
    the slow path (`event_ingest_valid`), having written nothing. Same answer, rows and
    history as the slow path; `event_applied` is sent on commit as there."""
    if envelope.type != "usage.recorded" or connection.vendor != "postgresql":
        return None
    data = envelope.data
    rows = bulk_write.select_bound(_usage_refs_sql(), [data["usage_id"], data["subscription_id"]])
    if not rows:
        return None
    pk, subscription_id, state, currency, partner_code, customer_id, code, taken = rows[0]
    if code != envelope.entity:
        return None  # the slow path looks the envelope's entity up on its own
    subscription = SubscriptionRef(
        pk, subscription_id, state, currency, partner_code, CustomerRef(customer_id)
    )
    try:
        usage_check(envelope, entity=code, subscription=subscription, usage_exists=taken)
    except QuarantineError:
        return None  # the slow path quarantines it and opens the case

    event = event_build(envelope=envelope, body=body, digest=digest, actor=actor)
    stamp(event, actor=actor, reason=f"{history_reason(event)}: received")
    received = (copy.copy(event), "+", timezone.now())
    event.apply_attempts += 1
    event.apply()
    usage = usage_build(event, envelope, subscription)
    records = {"usage": usage.usage_id, "subscription": subscription.subscription_id}
    event.result = applied_result(event, records)
    stamp(event, actor=actor, reason=f"{history_reason(event)}: applied")
    versions = [received, (copy.copy(event), "~", timezone.now())]
    try:
        # In a caller's transaction, a savepoint keeps it usable after a unique violation.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            stored = bulk_one.insert_with_history(
                event, ("source", "event_id"), versions=versions,
                children=[(usage, "event_id")], default_user=actor_or_none(actor),
            )  # fmt: skip
    except IntegrityError:
        return None  # the usage id raced in: the slow path quarantines it
    if stored is None:
        return stored_duplicate(envelope, digest)
    send_applied_on_commit(event)
    return IngestOutcome(STATUS_ACCEPTED, event, event.result)
