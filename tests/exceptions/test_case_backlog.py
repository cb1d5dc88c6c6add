"""The dashboard's backlog: open and acknowledged cases by kind, severity and the queue's
age buckets, counted in one query; each count is what the queue shows for the same filter."""

import datetime as dt

import pytest
from django.utils import timezone

from exceptions.selectors import case_backlog, case_list
from tests.exceptions.factories import CaseFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _case(kind, severity, *, days, **fields):
    seen = NOW - dt.timedelta(days=days)
    return CaseFactory(kind=kind, severity=severity, first_seen_at=seen, **fields)


@pytest.fixture
def backlog_cases():
    _case("unknown_customer", "high", days=0.5)
    _case("unknown_customer", "high", days=2, acknowledged=True)
    _case("unknown_customer", "critical", days=10)
    _case("mapping_missing", "low", days=5)
    _case("mapping_missing", "low", days=0.1)
    # Not in the backlog: closed.
    _case("unknown_customer", "high", days=0.5, resolved=True)
    _case("mapping_missing", "low", days=20, dismissed=True)


def test_case_backlog_counts_active_cases_by_kind_severity_and_age(backlog_cases):
    backlog = case_backlog(now=NOW)

    assert backlog["total"] == 5
    kinds = {k["kind"]: (k["total"], k["by_severity"]) for k in backlog["by_kind"]}
    assert kinds == {
        "unknown_customer": (3, {"low": 0, "medium": 0, "high": 2, "critical": 1}),
        "mapping_missing": (2, {"low": 2, "medium": 0, "high": 0, "critical": 0}),
    }
    assert [k["kind"] for k in backlog["by_kind"]] == ["unknown_customer", "mapping_missing"]
    ages = {a["age"]: (a["total"], a["by_severity"]) for a in backlog["by_age"]}
    assert ages == {
        "lt_1d": (2, {"low": 1, "medium": 0, "high": 1, "critical": 0}),
        "1_3d": (1, {"low": 0, "medium": 0, "high": 1, "critical": 0}),
        "3_7d": (1, {"low": 1, "medium": 0, "high": 0, "critical": 0}),
        "gt_7d": (1, {"low": 0, "medium": 0, "high": 0, "critical": 1}),
    }


def test_case_backlog_counts_agree_with_the_queue_filter(backlog_cases):
    backlog = case_backlog(now=timezone.now())
    active = {"state": ["open", "acknowledged"]}

    for age in backlog["by_age"]:
        for severity, n in age["by_severity"].items():
            filters = {**active, "age": age["age"], "severity": [severity]}
            assert case_list(filters=filters).count() == n, (age["age"], severity)
    for kind in backlog["by_kind"]:
        assert case_list(filters={**active, "kind": [kind["kind"]]}).count() == kind["total"]


def test_case_backlog_empty_has_every_bucket_at_zero():
    backlog = case_backlog()

    assert backlog["total"] == 0
    assert backlog["by_kind"] == []
    assert [a["total"] for a in backlog["by_age"]] == [0, 0, 0, 0]


def test_case_backlog_is_one_query_whatever_the_rows(django_assert_num_queries):
    for index in range(30):
        _case(f"kind_{index % 4}", ["low", "high"][index % 2], days=index / 3)

    with django_assert_num_queries(1):
        case_backlog()
