"""The queue's counts stop at a cap (exceptions.selectors.COUNT_CAP): up to it they are exact,
past it a count reads "1,000+" and the total is the database's estimate ("about N"), so the
top of the queue costs the same with a million open cases as with ten. Under no filter but
states and an entity, the counts per kind, the escalated and the total are exact at any size
(summed from the kept counts: test_case_count_summary.py); the SLA counts stay capped."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from exceptions import selectors
from exceptions.models import Case
from exceptions.pagination import keyset_page
from exceptions.selectors import case_counts
from tests.exceptions.factories import CaseFactory

pytestmark = pytest.mark.django_db

LIST = reverse("exceptions:case-list")


def test_counts_below_the_cap_are_exact():
    for _ in range(3):
        CaseFactory(kind="mapping_missing")
    CaseFactory(kind="unknown_customer", resolved=True)

    counts = case_counts(cap=3)

    assert counts["exact"] is True
    assert counts["total"] == 3
    assert counts["by_kind"] == [
        {"kind": "mapping_missing", "label": "No mapping rule", "count": 3, "shown": "3"}
    ]
    assert counts["shown"]["total"] == "3"


def test_counts_past_the_cap_stop_and_say_so():
    now = timezone.now()
    for _ in range(4):
        CaseFactory(kind="mapping_missing", sla_due_at=now - timedelta(hours=1))
    CaseFactory(kind="unknown_customer", sla_due_at=now + timedelta(days=2))

    # A filter the kept counts cannot answer: every count read from the cases, capped.
    counts = case_counts(filters={"unassigned": "true"}, cap=2)

    assert counts["exact"] is False
    rows = {row["kind"]: (row["count"], row["shown"]) for row in counts["by_kind"]}
    assert rows == {"mapping_missing": (3, "2+"), "unknown_customer": (1, "1")}
    assert counts["by_sla"]["breached"] == 3
    assert counts["shown"]["breached"] == "2+"
    assert counts["shown"]["on_time"] == "1"
    # The total is estimated, never below what was counted, and said to be an estimate.
    assert counts["total"] >= 3
    assert counts["shown"]["total"] == f"about {counts['total']:,}"


def test_counts_per_kind_and_total_past_the_cap_are_exact_under_states_and_an_entity():
    now = timezone.now()
    for entity in ("DE01", "DE01", "DE01", "US01"):
        CaseFactory(kind="mapping_missing", entity=entity, sla_due_at=now - timedelta(hours=1))
    CaseFactory(kind="mapping_missing", entity="DE01", escalated_at=now)
    CaseFactory(kind="mapping_missing", entity="DE01", resolved=True)

    counts = case_counts(filters={"entity": "DE01", "kind": "conflict", "sla": "breached"}, cap=2)

    assert counts["by_kind"] == [
        {"kind": "mapping_missing", "label": "No mapping rule", "count": 4, "shown": "4"}
    ]
    assert (counts["total"], counts["shown"]["total"]) == (4, "4")
    assert (counts["by_sla"]["escalated"], counts["shown"]["escalated"]) == (1, "1")
    assert (counts["by_sla"]["breached"], counts["shown"]["breached"]) == (3, "2+")
    assert counts["exact"] is False
    every_state = case_counts(filters={"entity": "DE01", "state": ["open", "resolved"]}, cap=2)
    assert every_state["total"] == 5


def test_counts_under_a_filter_stay_capped_per_kind():
    for entity in ("DE01", "DE01", "DE01", "US01"):
        CaseFactory(kind="mapping_missing", entity=entity)

    counts = case_counts(filters={"entity": "US01"}, cap=2)

    assert counts["by_kind"][0]["count"] == 1
    assert counts["exact"] is True


@pytest.fixture
def ops_client(client, make_user):
    client.force_login(make_user("ops", "finance_ops"))
    return client


def test_queue_page_shows_capped_counts_as_people_read_them(ops_client, monkeypatch):
    monkeypatch.setattr(selectors, "COUNT_CAP", 2)
    now = timezone.now()
    for _ in range(3):
        CaseFactory(kind="mapping_missing", sla_due_at=now - timedelta(hours=1))

    html = ops_client.get(LIST).content.decode()

    assert 'data-testid="count-kind-mapping_missing">No mapping rule: 3<' in html
    assert 'data-testid="count-breached">2+ past SLA<' in html
    assert "<strong>3</strong> cases need a person" in html
    html = ops_client.get(LIST, {"unassigned": "true"}).content.decode()
    assert 'data-testid="count-kind-mapping_missing">No mapping rule: 2+<' in html
    assert "<strong>about " in html


@pytest.mark.parametrize(
    ("sort", "nullable"), [("-last_seen_at", False), ("first_seen_at", False), ("sla_due_at", True)]
)
def test_keyset_sql_sorts_as_the_index_unless_the_column_can_be_null(sort, nullable):
    # NULLS LAST or "OR ... IS NULL" on a NOT NULL column would make PostgreSQL sort (or read
    # from its start) every case for one page instead of seeking in the column's index.
    for _ in range(3):
        CaseFactory()
    cursor = keyset_page(Case.objects.all(), sort=sort, cursor=None, size=1).next_cursor
    with CaptureQueriesContext(connection) as captured:
        page = keyset_page(Case.objects.all(), sort=sort, cursor=cursor, size=1)
    sql = captured.captured_queries[0]["sql"]
    assert len(page.rows) == 1
    assert ("NULLS LAST" in sql) is nullable
    assert ("IS NULL" in sql) is nullable
