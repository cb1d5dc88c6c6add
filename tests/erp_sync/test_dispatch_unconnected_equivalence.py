"""The prepared statement that marks dispatched the events needing no sync job
(`batch_writes.events_mark_dispatched_unconnected`, PostgreSQL) against the ORM update it
replaces (`event_mark_dispatched` with erp_sync's condition): same events marked, same count,
an event dispatched before keeps its timestamp."""

import datetime as dt

import pytest
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import FinanceEvent
from billing.services import event_mark_dispatched
from erp_sync.documents import document_type_for
from erp_sync.models import Connection
from erp_sync.services.batch_writes import events_mark_dispatched_unconnected
from erp_sync.services.dispatch import events_dispatch_unconnected
from tests.erp_sync.factories import ConnectionFactory, FinanceEventFactory, LegalEntityFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

# Entity code -> its connections' is_active flags.
WORLD = {"A1": (True,), "B1": (False,), "C1": (), "D1": (False, True)}
TYPES = ("invoice.issued", "payment.settled", "usage.recorded", "subscription.created")
BEFORE = timezone.make_aware(dt.datetime(2026, 1, 2, 3, 4, 5))

events = st.lists(
    st.tuples(st.sampled_from(TYPES), st.sampled_from(sorted(WORLD)), st.booleans()),
    min_size=1,
    max_size=12,
)


def _orm(event_ids: list[int], quiet: list[int]) -> int:
    connected = Connection.objects.filter(entity__code=OuterRef("entity"), is_active=True)
    return event_mark_dispatched(event_ids=event_ids, where=Q(pk__in=quiet) | ~Exists(connected))


def _fast(event_ids: list[int], quiet: list[int]) -> int:
    return events_mark_dispatched_unconnected(event_ids=event_ids, quiet_ids=quiet)


def _outcome(mark, specs) -> tuple[int, list]:
    """Build the world and the events, mark them with `mark`; what it marked and how every
    event stands, then roll everything back."""
    with transaction.atomic():
        for code, flags in WORLD.items():
            entity = LegalEntityFactory(code=code)
            for active in flags:
                ConnectionFactory(entity=entity, is_active=active)
        stored = [
            FinanceEventFactory(type=kind, entity=code, dispatched_at=BEFORE if done else None)
            for kind, code, done in specs
        ]
        ids = [event.pk for event in stored]
        quiet = [event.pk for event in stored if not document_type_for(event.type)]
        marked = mark(ids, quiet)
        rows = FinanceEvent.objects.filter(pk__in=ids).order_by("pk")
        states = [
            "before" if row.dispatched_at == BEFORE else "now" if row.dispatched_at else "open"
            for row in rows
        ]
        transaction.set_rollback(True)
    return marked, states


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=events)
def test_prepared_mark_marks_what_the_orm_update_marks(specs):
    assert _outcome(_fast, specs) == _outcome(_orm, specs)


def test_dispatch_unconnected_leaves_the_connected_documents_only():
    entity = LegalEntityFactory(code="A1")
    ConnectionFactory(entity=entity, is_active=True)
    LegalEntityFactory(code="C1")
    invoice = FinanceEventFactory(type="invoice.issued", entity="A1")
    elsewhere = FinanceEventFactory(type="invoice.issued", entity="C1")
    usage = FinanceEventFactory(type="usage.recorded", entity="A1")

    left = events_dispatch_unconnected(events=[invoice, elsewhere, usage])

    assert left == [invoice]
    marked = set(
        FinanceEvent.objects.filter(dispatched_at__isnull=False).values_list("pk", flat=True)
    )
    assert marked == {elsewhere.pk, usage.pk}
