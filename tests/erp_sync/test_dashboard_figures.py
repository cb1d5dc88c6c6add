"""The dashboard's posting figures: jobs by state per connection and entity, held jobs by
reason, and posting latency p50/p95 (job created → posted) over the last 24 h and 7 days,
the same numbers on PostgreSQL (percentile_cont) and SQLite (computed in Python)."""

import datetime as dt

import pytest
from django.db import connection as db_connection
from django.utils import timezone

from erp_sync import selectors
from erp_sync.models import SyncJob
from erp_sync.selectors import percentile_cont, posting_latency, sync_job_board
from tests.erp_sync.factories import ConnectionFactory, FinanceEventFactory, LegalEntityFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _job(connection, state="pending", *, created=None, posted=None, **fields):
    return SyncJob.objects.create(
        event=FinanceEventFactory(),
        connection=connection,
        document_type="invoice",
        external_id=f"x-{SyncJob.objects.count()}",
        state=state,
        created_at=created or NOW,
        posted_at=posted,
        **fields,
    )


def _posted(connection, *, posted_ago: dt.timedelta, seconds: float):
    posted = NOW - posted_ago
    return _job(connection, "posted", created=posted - dt.timedelta(seconds=seconds), posted=posted)


def test_sync_job_board_counts_states_per_connection_and_posted_of_the_last_day():
    us, de = LegalEntityFactory(code="US01"), LegalEntityFactory(code="DE01")
    us_a = ConnectionFactory(entity=us, name="us-a")
    us_b = ConnectionFactory(entity=us, name="us-b", is_active=False)
    de_a = ConnectionFactory(entity=de, name="de-a")
    ConnectionFactory(entity=de, name="idle", is_active=False)  # no jobs: no row
    for state in ["pending", "posted", "posted", "dead"]:
        _job(us_a, state, posted=NOW - dt.timedelta(hours=1) if state == "posted" else None)
    _job(us_a, "posted", posted=NOW - dt.timedelta(days=2))  # posted before the last day
    _job(us_b, "held", hold_reason="awaiting_parent")
    _job(us_b, "held", hold_reason="closed_period")
    _job(us_b, "held", hold_reason="closed_period")
    _job(de_a, "dead")

    board = sync_job_board(now=NOW)

    assert board["posted_since"] == NOW - dt.timedelta(days=1)
    rows = {(c["entity"], c["name"]): c for c in board["connections"]}
    assert set(rows) == {("US01", "us-a"), ("US01", "us-b"), ("DE01", "de-a")}
    assert rows["US01", "us-a"]["counts"] == {
        "pending": 1, "in_flight": 0, "retry_wait": 0, "posted": 2, "dead": 1, "held": 0,
        "cancelled": 0,
    }  # fmt: skip
    assert rows["US01", "us-b"]["total"] == 3
    entities = {e["entity"]: e for e in board["entities"]}
    assert entities["US01"]["total"] == 7
    assert entities["US01"]["counts"]["held"] == 3
    assert entities["DE01"]["counts"]["dead"] == 1
    assert board["totals"]["dead"] == 2
    assert board["totals"]["held"] == 3
    assert [(r["reason"], r["count"]) for r in board["held_by_reason"]] == [
        ("closed_period", 2),
        ("awaiting_parent", 1),
    ]


def test_sync_job_board_queries_do_not_grow_with_jobs(django_assert_num_queries):
    for index in range(3):
        connection = ConnectionFactory()
        for state in ["pending", "posted", "dead", "held"]:
            _job(connection, state, hold_reason="paused" if state == "held" else "")

    with django_assert_num_queries(4):
        sync_job_board()


@pytest.fixture
def postings():
    """Created → posted in seconds: 10, 20, 30, 40, 100 in the last day; 1000 three days
    ago; 5 ten days ago (outside both windows); one job not posted yet."""
    connection = ConnectionFactory()
    for index, seconds in enumerate([10, 20, 30, 40, 100]):
        _posted(connection, posted_ago=dt.timedelta(hours=index + 1), seconds=seconds)
    _posted(connection, posted_ago=dt.timedelta(days=3), seconds=1000)
    _posted(connection, posted_ago=dt.timedelta(days=10), seconds=5)
    _job(connection, "pending", created=NOW - dt.timedelta(hours=1))
    return connection


def test_posting_latency_p50_p95_over_the_last_day_and_week(postings):
    windows = {w["window"]: w for w in posting_latency(now=NOW)}

    # percentile_cont: linear interpolation between the two nearest ranks.
    assert windows["24h"]["postings"] == 5
    assert windows["24h"]["p50_seconds"] == 30.0
    assert windows["24h"]["p95_seconds"] == 88.0  # 40 + 0.8 x (100 - 40)
    assert windows["7d"]["postings"] == 6
    assert windows["7d"]["p50_seconds"] == 35.0  # (30 + 40) / 2
    assert windows["7d"]["p95_seconds"] == 775.0  # 100 + 0.75 x (1000 - 100)
    assert windows["24h"]["since"] == NOW - dt.timedelta(days=1)
    assert not windows["7d"]["sampled"]


def test_posting_latency_without_postings_is_unknown():
    assert [(w["postings"], w["p50_seconds"], w["p95_seconds"]) for w in posting_latency()] == [
        (0, None, None),
        (0, None, None),
    ]


def test_posting_latency_queries_do_not_grow_with_jobs(postings, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):
        posting_latency(now=NOW)


@pytest.mark.skipif(
    db_connection.vendor == "postgresql", reason="PostgreSQL computes over every posting"
)
def test_posting_latency_without_percentile_cont_samples_the_latest(postings, monkeypatch):
    monkeypatch.setattr(selectors, "LATENCY_SAMPLE", 3)

    day = posting_latency(now=NOW)[0]

    # The three most recent postings took 10, 20 and 30 seconds.
    assert (day["postings"], day["p50_seconds"], day["sampled"]) == (5, 20.0, True)


@pytest.mark.postgres
def test_posting_latency_uses_percentile_cont_on_postgresql(postings, django_assert_num_queries):
    with django_assert_num_queries(1) as captured:
        posting_latency(now=NOW)

    assert "PERCENTILE_CONT(0.95) WITHIN GROUP" in captured.captured_queries[0]["sql"]


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [([], 0.5, None), ([7.0], 0.95, 7.0), ([1.0, 2.0], 0.5, 1.5), ([1.0, 2.0, 4.0], 1.0, 4.0)],
)
def test_percentile_cont_interpolates_like_postgresql(values, fraction, expected):
    assert percentile_cont(values, fraction) == expected
