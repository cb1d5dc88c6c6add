"""The one-event endpoint's statement budget, pinned per event type.

POST /api/v1/events with a bearer token, counted with CaptureQueriesContext (which also
sees bulk_write's server-side-bound statements). Exact counts, so that a change in either
direction is seen: a regression fails here, an improvement updates the figure. Inside the
test's transaction the ingest's own transaction is a savepoint, which adds its SAVEPOINT and
RELEASE to every count. Before the ingest_single work (2026-12-07), counted the same way on
PostgreSQL: usage 16, invoice 19, payment 22 (of which 2 authenticated the client, which
the per-process key cache now skips); docs/benchmarks.md has the figures.
"""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import FinanceEvent
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db

# (event type, data overrides) -> statements by backend. A quarantined event that waits for
# its record costs two more (issue 11): its AwaitedRecord row and its case's owning group.
# A quarantined event costs more
# than before: its first transaction is rolled back and it is stored again to be quarantined
# (billing.services.events.event_ingest_valid), so that an applied one needs no savepoint.
BUDGET = {
    # PostgreSQL: the fast path (billing.services.fast_one): one read and one write statement,
    # the write in a savepoint inside a transaction (here, the test's); in autocommit, as a
    # request runs, the two statements alone.
    "usage": (("usage.recorded", {}), {"postgresql": 4, "sqlite": 8}),
    "invoice": (("invoice.issued", {"subscription_id": "sub_x"}), {"postgresql": 4, "sqlite": 11}),
    # PostgreSQL: a payment's fast path locks and reads its invoices between the two.
    "payment": (("payment.settled", {"invoice_id": "inv_x"}), {"postgresql": 5, "sqlite": 14}),
    "payment_on_account": (
        ("payment.settled", {"invoice_id": None}),
        {"postgresql": 5, "sqlite": 14},
    ),
    # PostgreSQL: the fast path's read (no such subscription) comes first.
    "quarantined": (
        ("usage.recorded", {"subscription_id": "sub_nope"}),
        {"postgresql": 25, "sqlite": 26},
    ),
    # A duplicate adds one upsert to its entity's DuplicateDeliveryCount (the KPI); the
    # other paths are unchanged.
    # On PostgreSQL the fast path's read finds the usage id taken first (one statement more).
    "duplicate": (("usage.recorded", {}), {"postgresql": 6, "sqlite": 5}),
}


@pytest.mark.parametrize("case", sorted(BUDGET))
def test_event_ingest_statement_count_is_pinned(api_with_scopes, world, case):
    (event_type, data), budget = BUDGET[case]
    api = api_with_scopes("events:write")
    # Warm the per-process API key cache, as every request after a client's first finds it.
    warm = api.post("/api/v1/events", event_body("usage.recorded"), format="json")
    assert warm.status_code == 202, warm.json()
    body = event_body(event_type, **data)
    if case == "duplicate":
        assert api.post("/api/v1/events", body, format="json").status_code == 202
    # The content type of a quarantine's case is cached per process: make every order alike.
    ContentType.objects.get_for_model(FinanceEvent)

    with CaptureQueriesContext(connection) as queries:
        response = api.post("/api/v1/events", body, format="json")

    expected_status = 200 if case == "duplicate" else 202
    assert response.status_code == expected_status, response.json()
    if case == "quarantined":
        assert response.json()["state"] == "quarantined"
    statements = [q["sql"][:120] for q in queries]
    assert len(statements) == budget[connection.vendor], statements
    if case == "duplicate":
        assert "billing_duplicatedeliverycount" in statements[-1], statements
    # Applying writes the columns applying changes, never the body again.
    event_updates = [
        q["sql"] for q in queries if q["sql"].startswith('UPDATE "billing_financeevent"')
    ]
    # The fast paths insert the event applied: no UPDATE at all.
    fast = case != "quarantined" and connection.vendor == "postgresql"
    assert event_updates or case == "duplicate" or fast
    assert not [sql for sql in event_updates if '"body"' in sql.split(" WHERE ")[0]], event_updates


def test_the_fast_path_s_statements_are_prepared_and_the_orm_s_are_not(api_with_scopes, world):
    """The one-event path asks for its read and its write to be prepared (planned once per
    connection: docs/decisions.md "Prepared statements"); Django's own are never prepared."""
    if connection.vendor != "postgresql":
        pytest.skip("the fast path and prepared statements are PostgreSQL's")
    api = api_with_scopes("events:write")
    for event_type in ("usage.recorded", "usage.recorded"):
        assert api.post("/api/v1/events", event_body(event_type), format="json").status_code == 202
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any(s.startswith("WITH ins AS (INSERT INTO") for s in prepared), prepared
    assert any("billing_usagerecord" in s and s.startswith("SELECT") for s in prepared), prepared
    assert not any("api_key" in s.lower() or "auth_user" in s for s in prepared), prepared
