"""config/instances.py: instances built and marked outside Django's own paths, pinned.

`build` skips ``Model.__init__`` and `mark_saved` writes ``_state``: if a Django (or
django-fsm) upgrade changes what ``__init__``, ``save()`` or loading leave on an instance,
these tests fail and the adapter must follow.
"""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models.signals import post_init, pre_init

from billing.models import FinanceEvent, Invoice, InvoiceLine, Payment, UsageRecord
from config.fsm import saved_states
from config.instances import build, mark_saved

NOW = datetime(2026, 5, 14, 10, tzinfo=UTC)

# Values for every model the batch path builds; the callable defaults (received_at, result)
# are given, so that the two instances can be compared field for field.
VALUES = {
    FinanceEvent: {
        "source": "s",
        "event_id": "e1",
        "type": "usage.recorded",
        "event_time": NOW,
        "entity": "US01",
        "body": {"id": "e1"},
        "body_digest": "0" * 64,
        "received_at": NOW,
        "result": {},
    },
    Invoice: {
        "invoice_id": "inv_1",
        "entity_id": 1,
        "customer_id": 1,
        "issue_date": date(2026, 5, 1),
        "due_date": date(2026, 5, 31),
        "currency": "USD",
        "total_amount": Decimal("10.00"),
        "event_id": 1,
    },
    InvoiceLine: {"invoice_id": 1, "line_id": "l1", "description": "d", "product_family": "p"},
    UsageRecord: {"usage_id": "u1", "subscription_id": 1, "meter": "m", "event_id": 1},
    Payment: {"payment_id": "p1", "entity_id": 1, "customer_id": 1, "event_id": 1},
}


@pytest.mark.parametrize("model", list(VALUES), ids=lambda m: m.__name__)
def test_build_gives_what_init_gives(model):
    values = VALUES[model]
    built, made = build(model, **values), model(**values)
    assert not pre_init.has_listeners(model) and not post_init.has_listeners(model)
    as_init = {k: v for k, v in vars(made).items() if k != "_state"}
    assert {k: v for k, v in vars(built).items() if k != "_state"} == as_init
    assert type(built._state) is type(made._state)
    # ModelState's documented attributes, and its cache of related objects (made on demand).
    state = ("adding", "db", "fields_cache")
    assert [getattr(built._state, a) for a in state] == [getattr(made._state, a) for a in state]
    assert set(vars(built._state)) <= set(state) and set(vars(made._state)) <= set(state)
    assert (built._state.adding, built._state.db) == (True, None)
    assert saved_states(built) == saved_states(made)


def test_build_refuses_an_unknown_attname():
    with pytest.raises(TypeError, match="no field"):
        build(Payment, customer=object())


@pytest.mark.django_db
def test_mark_saved_makes_an_instance_behave_as_saved_and_loaded(django_user_model):
    event = build(FinanceEvent, **VALUES[FinanceEvent])
    FinanceEvent.objects.bulk_create([build(FinanceEvent, **VALUES[FinanceEvent])])
    event.pk = FinanceEvent.objects.get().pk  # written behind the instance's back
    mark_saved(event, using=connection.alias)

    loaded = FinanceEvent.objects.get(pk=event.pk)
    assert (event._state.adding, event._state.db) == (loaded._state.adding, loaded._state.db)
    assert saved_states(event) == saved_states(loaded)
    # save() now updates the row (an insert would break the unique (source, event_id)).
    event.correlation_id = "c1"
    event.save(update_fields=["correlation_id"])
    assert FinanceEvent.objects.get().correlation_id == "c1"
    event.save()
    assert FinanceEvent.objects.count() == 1
