"""Equivalence property: the one-event fast path (billing.services.fast_one) leaves what the
slow path leaves, row for row.

Random mixes of events (every type, usage weighted; duplicates, conflicting duplicates,
malformed bodies; usage of unknown, new and cancelled subscriptions, of an unknown entity,
with usage ids taken) go through `event_ingest` one at a time, from the same starting state,
once as it runs (usage through the fast path where it applies) and once with the fast path
turned off. Every row of the billing, partners and exceptions tables, history tables
included (each event's "+" received and "~" applied rows, with their state, reason, user
and every other column), and every answer must be the same once database ids and clock
times are normalised. Nothing is normalised away beyond that.
"""

from unittest import mock

import pytest
from django.db import transaction
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st

from billing.services import fast_one
from tests.billing.test_event_batch_equivalence import (
    DATA,
    ENTITIES,
    Snapshot,
    _scrub,
    bodies_of,
    one_by_one,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

WEIGHTED_TYPES = list(DATA) + ["usage.recorded"] * 12 + ["subscription.cancelled"] * 2
NEW = st.sampled_from(WEIGHTED_TYPES).flatmap(
    lambda kind: st.tuples(st.just("new"), st.just(kind), DATA[kind], ENTITIES)
)
STEP = st.one_of(
    *[NEW] * 6,
    st.tuples(st.just("duplicate"), st.integers(0, 30)),
    st.tuples(st.just("conflict"), st.integers(0, 30)),
    st.just(("malformed",)),
)


class StrictSnapshot(Snapshot):
    """Every row, history rows numbered per record in the order written; nothing dropped."""

    def tables(self) -> dict:
        from django.apps import apps

        out = {}
        for app in ("billing", "partners", "exceptions"):
            for model in apps.get_app_config(app).get_models():
                rows = sorted(self._rows(model).items())
                content = [self.content(model, row) for _, row in rows]
                if getattr(model, "instance_type", None) is not None:
                    seen: dict[str, int] = {}
                    numbered = []
                    for row in content:
                        record = repr(row["id"])
                        seen[record] = seen.get(record, -1) + 1
                        numbered.append((row["id"], seen[record], row))
                    content = numbered
                out[model._meta.label] = sorted(content, key=repr)
        return out


def run(bodies, actor, *, fast: bool) -> dict:
    taken = {"fast": 0}
    real = fast_one.usage_ingest_fast

    def spy(**kwargs):
        outcome = real(**kwargs) if fast else None
        taken["fast"] += outcome is not None
        return outcome

    with transaction.atomic(), mock.patch.object(fast_one, "usage_ingest_fast", spy):
        answers = one_by_one(bodies, actor)
        taken.update(answers=_scrub(answers), tables=StrictSnapshot().tables())
        transaction.set_rollback(True)
    return taken


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=3, max_size=14))
@example(
    steps=[
        ("new", "usage.recorded", {"usage_id": "use_1", "subscription_id": "sub_x"}, "US01"),
        ("duplicate", 0),
        ("conflict", 0),
        ("new", "usage.recorded", {"usage_id": "use_1", "subscription_id": "sub_x"}, "US01"),
        ("new", "usage.recorded", {"usage_id": "use_2", "subscription_id": "sub_x"}, "ZZ01"),
        ("new", "subscription.cancelled", {"subscription_id": "sub_x"}, "US01"),
        ("new", "usage.recorded", {"usage_id": "use_3", "subscription_id": "sub_x"}, "US01"),
    ]
)
def test_fast_and_slow_one_event_paths_leave_the_same_rows_history_and_answers(world, actor, steps):
    bodies = bodies_of(steps)
    if not bodies:
        return
    fast = run(bodies, actor, fast=True)
    slow = run(bodies, actor, fast=False)
    event(f"fast path took {min(fast['fast'], 3)}+ events" if fast["fast"] else "no fast event")
    assert slow["fast"] == 0
    assert fast["answers"] == slow["answers"]
    assert fast["tables"] == slow["tables"]


def test_fast_path_takes_an_applicable_usage_event(world, actor):
    bodies = bodies_of([("new", "usage.recorded", {"usage_id": "use_9"}, "US01")])
    taken = run(bodies, actor, fast=True)
    assert taken["fast"] == 1
    assert taken["answers"][0]["status"] == 202
    history = taken["tables"]["billing.HistoricalFinanceEvent"]
    rows = [row for _, _, row in history if row["event_id"] == "evt_0"]
    assert [(row["history_type"], row["state"]) for row in rows] == [
        ("+", "received"),
        ("~", "applied"),
    ]
