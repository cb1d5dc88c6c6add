"""The set-based write helpers of the batch path: same rows as the ORM, on every backend."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_fsm import ConcurrentTransition

from billing.models import FinanceEvent, Invoice, UsageRecord
from billing.services import bulk_write
from config.instances import build
from tests.billing.factories import InvoiceFactory


def _event(event_id: str, **extra) -> FinanceEvent:
    return build(
        FinanceEvent,
        source="s",
        event_id=event_id,
        type="usage.recorded",
        entity="US01",
        body={"id": event_id, "n": Decimal("1.50")},
        body_digest="d" * 64,
        **{"event_time": timezone.now(), **extra},
    )


def _comparable(obj) -> dict:
    return {k: v for k, v in obj.__dict__.items() if k != "_state"}


def test_build_gives_what_the_constructor_gives():
    values = {"usage_id": "u1", "meter": "api", "quantity": Decimal(2), "subscription_id": 4}
    built, constructed = build(UsageRecord, **values), UsageRecord(**values)
    assert _comparable(built) == _comparable(constructed)
    assert built._state.adding and built.pk is None
    # Callable defaults are called per instance (two events never share one result dict).
    first, second = _event("a"), _event("b")
    assert first.result == {} and first.result is not second.result
    assert first.state == FinanceEvent(state="received").state == "received"


def test_build_refuses_an_unknown_field():
    with pytest.raises(TypeError, match=r"no field .*subscription$"):
        build(UsageRecord, subscription=object())


@pytest.mark.django_db(transaction=True)
def test_insert_ignoring_conflicts_skips_stored_keys_and_saves_the_rest():
    stored = _event("e2")
    stored.save()
    events = [_event("e3"), _event("e2"), _event("e1")]
    inserted = bulk_write.insert_ignoring_conflicts(FinanceEvent, events, ("source", "event_id"))
    assert inserted == {("s", "e1"), ("s", "e3")}
    assert events[1].pk is None and events[1]._state.adding
    rows = dict(FinanceEvent.objects.values_list("event_id", "pk"))
    assert rows == {"e1": events[2].pk, "e2": stored.pk, "e3": events[0].pk}
    # Saved as the ORM would leave them: a later transition saves with the concurrency check.
    events[0].quarantine(reason="closed_period", detail="x")
    events[0].save()
    assert FinanceEvent.objects.get(pk=events[0].pk).state == "quarantined"
    assert FinanceEvent.objects.get(pk=events[2].pk).body == {"id": "e1", "n": "1.50"}


@pytest.mark.django_db
def test_update_columns_writes_each_row_its_own_values():
    invoices = [InvoiceFactory(total_amount=Decimal("100.00")) for _ in range(3)]
    invoices[0].record_payment(amount=Decimal("100.00"))
    invoices[2].paid_amount = Decimal("0.01")
    bulk_write.update_columns(Invoice, invoices, ["state", "paid_amount"])
    rows = {pk: (state, paid) for pk, state, paid in Invoice.objects.values_list(
        "pk", "state", "paid_amount"
    )}  # fmt: skip
    assert rows == {
        invoices[0].pk: ("paid", Decimal("100.00")),
        invoices[1].pk: (invoices[1].state, Decimal("0.00")),
        invoices[2].pk: (invoices[2].state, Decimal("0.01")),
    }


@pytest.mark.django_db
def test_update_columns_refuses_a_row_whose_state_moved_and_writes_nothing():
    """The optimistic check ConcurrentTransitionMixin's save() makes, row by row: an invoice
    paid by another writer after it was read is reported, never overwritten."""
    invoices = [InvoiceFactory(total_amount=Decimal("100.00")) for _ in range(3)]
    for invoice in invoices:
        invoice.record_payment(amount=Decimal("40.00"))
    Invoice.objects.filter(pk=invoices[1].pk).update(state="written_off")  # someone else
    with pytest.raises(ConcurrentTransition, match=str(invoices[1].pk)), transaction.atomic():
        bulk_write.update_columns(Invoice, invoices, ["state", "paid_amount"])
    states = dict(Invoice.objects.values_list("pk", "state"))
    assert states[invoices[1].pk] == "written_off"
    assert Invoice.objects.filter(paid_amount=Decimal("40.00")).count() == 0


@pytest.mark.django_db
def test_update_columns_marks_the_written_state_as_saved():
    (invoice,) = [InvoiceFactory(total_amount=Decimal("100.00"))]
    invoice.record_payment(amount=Decimal("100.00"))
    bulk_write.update_columns(Invoice, [invoice], ["state", "paid_amount"])
    invoice.erp_status = "posted"
    invoice.save(update_fields=["erp_status"])  # expects "paid", the row is "paid"
    assert Invoice.objects.get(pk=invoice.pk).erp_status == "posted"


def test_update_columns_is_one_statement(django_assert_num_queries, db):
    """PostgreSQL: UPDATE ... FROM unnest(...); SQLite: UPDATE ... FROM (VALUES ...)."""
    invoices = [InvoiceFactory() for _ in range(5)]
    with django_assert_num_queries(1):
        bulk_write.update_columns(Invoice, invoices, ["state", "paid_amount"])


@pytest.mark.django_db
def test_insert_ignoring_conflicts_many_rows_store_what_the_orm_stores():
    """More rows than one statement's parameters hold (SQLite: several statements): every
    new row is stored as save() stores it, with its pk; stored keys are skipped."""
    when = timezone.now()
    for event_id in ("e7", "e150"):
        _event(event_id, event_time=when).save()
    events = [_event(f"e{i}", event_time=when, apply_attempts=i) for i in range(300)]
    inserted = bulk_write.insert_ignoring_conflicts(FinanceEvent, events, ("source", "event_id"))
    assert inserted == {("s", f"e{i}") for i in range(300)} - {("s", "e7"), ("s", "e150")}
    reference = _event("ref", event_time=when, apply_attempts=5)
    reference.save()
    stored = FinanceEvent.objects.in_bulk()
    assert len(stored) == 301
    skip = {"id", "event_id", "apply_attempts", "received_at", "body"}
    expected = {k: v for k, v in _comparable(stored[reference.pk]).items() if k not in skip}
    for event in events:
        if event.event_id in ("e7", "e150"):
            assert event.pk is None
            continue
        row = _comparable(stored[event.pk])
        assert (row["event_id"], row["apply_attempts"]) == (event.event_id, event.apply_attempts)
        assert row["received_at"] == event.received_at
        assert row["body"] == {"id": event.event_id, "n": "1.50"}
        assert {k: v for k, v in row.items() if k not in skip} == expected


@pytest.mark.django_db
def test_insert_ignoring_conflicts_keeps_every_character():
    tricky = 'quote " backslash \\ tab \t newline \n unicode é ü 漢字 emoji 🧾 escape \\u0041'
    event = _event(f"e-{tricky[:5]}", correlation_id=tricky[:100])
    event.body = {"text": tricky, "nested": {"list": [tricky, "1.50"]}}
    bulk_write.insert_ignoring_conflicts(FinanceEvent, [event], ("source", "event_id"))
    stored = FinanceEvent.objects.get(pk=event.pk)
    assert stored.body == {"text": tricky, "nested": {"list": [tricky, "1.50"]}}
    assert stored.correlation_id == tricky[:100]


@pytest.mark.django_db
def test_insert_with_history_writes_the_plus_row_of_each_inserted_event(django_user_model):
    from config.history import stamp

    first, second = (django_user_model.objects.create_user(username=n) for n in ("u1", "u2"))
    stored = _event("h2")
    stored.save()
    events = [_event("h1", correlation_id="corr-1"), _event("h2"), _event("h3", state="applied")]
    stamp(events[0], actor=first, reason="first reason")
    stamp(events[1], actor=first, reason="never written: the key exists")
    events[2]._change_reason = "third reason"  # no user stamped: default_user

    inserted = bulk_write.insert_ignoring_conflicts(
        FinanceEvent, events, ("source", "event_id"), with_history=True, default_user=second
    )

    assert inserted == {("s", "h1"), ("s", "h3")}
    rows = FinanceEvent.history.filter(event_id__in=["h1", "h2", "h3"]).order_by("event_id")
    got = [
        (r.id, r.event_id, r.history_type, r.history_user_id, r.history_change_reason, r.state)
        for r in rows
    ]
    assert got == [
        (events[0].pk, "h1", "+", first.pk, "first reason", "received"),
        (stored.pk, "h2", "+", None, None, "received"),  # the stored event's own save only
        (events[2].pk, "h3", "+", second.pk, "third reason", "applied"),
    ]
    row = FinanceEvent.history.get(event_id="h1")
    assert row.correlation_id == "corr-1" and row.body_digest == "d" * 64
    assert row.history_date is not None


@pytest.mark.django_db
def test_history_rows_name_the_stamped_user_or_none_the_same_on_every_backend(django_user_model):
    from config.history import stamp

    fallback = django_user_model.objects.create_user(username="fallback")
    events = [_event("n1"), _event("n2")]
    stamp(events[0], actor=None, reason="stamped without a user")  # a system change
    events[1]._change_reason = "not stamped"
    bulk_write.insert_ignoring_conflicts(
        FinanceEvent, events, ("source", "event_id"), with_history=True, default_user=fallback
    )
    users = dict(
        FinanceEvent.history.filter(event_id__in=["n1", "n2"]).values_list(
            "event_id", "history_user_id"
        )
    )
    assert users == {"n1": None, "n2": fallback.pk}


def test_claim_with_history_is_one_statement_on_postgresql(django_assert_num_queries, db):
    if connection.vendor != "postgresql":
        pytest.skip("one statement on PostgreSQL; elsewhere an INSERT and the history rows")
    events = [_event(f"one-{n}") for n in range(5)]
    with django_assert_num_queries(1):
        bulk_write.insert_ignoring_conflicts(
            FinanceEvent, events, ("source", "event_id"), with_history=True
        )
    assert FinanceEvent.history.filter(event_id__startswith="one-").count() == 5


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db
def test_select_bound_prepares_only_the_statements_that_ask_and_django_s_never():
    """The one-event path's statements are planned once per connection (prepare=True);
    the other server-bound statements and Django's own, bound client-side, never are."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    assert connection.settings_dict["OPTIONS"]["prepare_threshold"], (
        "config/settings/base.py enables prepared statements for PostgreSQL"
    )
    asked = "SELECT %s::int + 1 AS concord_prepare_asked"
    plain = "SELECT %s::int + 2 AS concord_prepare_plain"
    assert bulk_write.select_bound(asked, [41], prepare=True) == [(42,)]
    for number in range(10):
        assert bulk_write.select_bound(plain, [number]) == [(number + 2,)]
        list(FinanceEvent.objects.filter(event_id=f"probe-{number}"))
    prepared = _prepared_statements()
    assert [s for s in prepared if "concord_prepare_asked" in s]
    assert not [s for s in prepared if "concord_prepare_plain" in s]
    assert not [s for s in prepared if "billing_financeevent" in s]
