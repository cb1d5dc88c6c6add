"""The dashboard's duplicate events rejected: deliveries billing counted per UTC day, summed
over today, 7 and 30 days, and the events quarantined as duplicate records."""

import datetime as dt

import pytest

from billing.models import DuplicateDeliveryCount
from billing.selectors import duplicate_deliveries
from tests.erp_sync.factories import FinanceEventFactory

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 7)


def _count(entity, days_ago, duplicates, conflicts=0):
    DuplicateDeliveryCount.objects.create(
        entity=entity,
        day=TODAY - dt.timedelta(days=days_ago),
        duplicates=duplicates,
        conflicts=conflicts,
    )


def test_duplicate_deliveries_sums_each_window_across_entities(django_assert_num_queries):
    _count("US01", 0, 3, 1)
    _count("DE01", 0, 2)
    _count("US01", 6, 10, 4)  # the 7th day back is in the 7-day window
    _count("US01", 7, 100)  # the 8th is not
    _count("US01", 29, 1000, 1)
    _count("US01", 30, 5000)  # outside 30 days
    _count("US01", -1, 7)  # tomorrow (a clock ahead): not counted
    FinanceEventFactory(state="quarantined", quarantine_reason="duplicate_record")
    FinanceEventFactory(state="quarantined", quarantine_reason="unknown_customer")
    FinanceEventFactory(state="discarded", quarantine_reason="duplicate_record")

    with django_assert_num_queries(2):
        figures = duplicate_deliveries(today=TODAY)

    windows = {
        w["window"]: (w["duplicates"], w["conflicts"], w["rejected"]) for w in figures["windows"]
    }
    assert windows == {
        "today": (5, 1, 6),
        "7d": (15, 5, 20),
        "30d": (1115, 6, 1121),
    }
    assert figures["windows"][1]["since"] == dt.date(2026, 12, 1)
    assert figures["quarantined_duplicate_records"] == 1


def test_duplicate_deliveries_none_recorded_are_zero():
    figures = duplicate_deliveries(today=TODAY)

    assert [w["rejected"] for w in figures["windows"]] == [0, 0, 0]
    assert figures["quarantined_duplicate_records"] == 0
