"""List endpoints and pages read in a bounded number of queries, whatever the row count."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.services import event_ingest
from tests.billing.factories import event_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def many(world, actor):
    for _ in range(12):
        event_ingest(body=event_body("invoice.issued", subscription_id="sub_x"), actor=actor)
        event_ingest(body=event_body("payment.settled"), actor=actor)
        event_ingest(body=event_body("credit_note.issued"), actor=actor)


@pytest.mark.parametrize(
    ("url", "bound"),
    [
        ("/api/v1/events", 8),
        ("/api/v1/customers", 8),
        ("/api/v1/subscriptions", 8),
        ("/api/v1/invoices", 8),
        ("/api/v1/payments", 9),
        ("/api/v1/credit-notes", 9),
        ("/api/v1/invoices/inv_x", 10),
    ],
)
def test_api_reads_have_bounded_query_count(api_for_role, many, url, bound):
    api = api_for_role("auditor")
    with CaptureQueriesContext(connection) as queries:
        response = api.get(url)
    assert response.status_code == 200
    assert len(queries) <= bound, [q["sql"] for q in queries]


@pytest.mark.parametrize("name", ["billing:event-list", "billing:invoice-list"])
def test_console_lists_have_bounded_query_count(client, role_users, many, name):
    client.force_login(role_users["auditor"])
    client.get(reverse(name))  # warm the permission cache of the session user
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse(name))
    assert response.status_code == 200
    assert len(queries) <= 10, [q["sql"] for q in queries]
