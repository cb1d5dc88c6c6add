"""Datetime query parameters are validated before they reach the database.

schemathesis found that, on PostgreSQL, a UTC offset past ±15:59 (`+21:47`) or a value that
leaves years 1 to 9999 once in UTC made the events, payments and sync-jobs lists answer 500.
Every FilterSet's datetime filters are now `config.filters.DateTimeFilter`: such a value is a
400 in the error shape naming the query parameter, on SQLite and PostgreSQL alike.
"""

from datetime import UTC, datetime
from importlib import import_module

import django_filters
import pytest
from django.apps import apps
from django.conf import settings

from config.filters import DateTimeFilter

pytestmark = pytest.mark.django_db

PARAMETERS = [
    ("/api/v1/events/", "received_at_after"),
    ("/api/v1/events/", "received_at_before"),
    ("/api/v1/payments/", "received_at_after"),
    ("/api/v1/payments/", "received_at_before"),
    ("/api/v1/sync-jobs/", "created_after"),
    ("/api/v1/sync-jobs/", "created_before"),
]

OUT_OF_RANGE = [
    ("0156-12-30T05:42:47+21:47", "offset"),  # found by schemathesis on sync jobs
    ("4361-05-15T03:34:21.83-18:42", "offset"),  # found on events and payments
    ("2026-01-01T00:00:00+14:01", "offset"),
    ("0001-01-01T00:30:00+01:00", "range"),  # year 0 in UTC
    ("9999-12-31T23:00:00-02:00", "range"),  # year 10000 in UTC
]


@pytest.mark.parametrize(("path", "parameter"), PARAMETERS)
@pytest.mark.parametrize(("value", "code"), OUT_OF_RANGE)
def test_datetime_filter_out_of_range_is_400_naming_the_parameter(
    api_with_scopes, path, parameter, value, code
):
    response = api_with_scopes("read").get(path, {parameter: value})

    assert response.status_code == 400, response.content
    [problem] = response.json()["errors"]
    assert (problem["field"], problem["code"]) == (parameter, code)
    assert problem["message"].startswith("The ")


@pytest.mark.parametrize(("path", "parameter"), PARAMETERS)
@pytest.mark.parametrize("value", ["2026-05-14T10:00:00+14:00", "2026-05-14T10:00:00-12:00"])
def test_datetime_filter_real_offsets_are_accepted(api_with_scopes, path, parameter, value):
    response = api_with_scopes("read").get(path, {parameter: value})

    assert response.status_code == 200, response.content


def test_datetime_filter_bounds_the_rows(api_with_scopes):
    from tests.billing.factories import FinanceEventFactory

    FinanceEventFactory(received_at=datetime(2026, 5, 14, 10, tzinfo=UTC))
    FinanceEventFactory(received_at=datetime(2026, 5, 16, 10, tzinfo=UTC))
    api = api_with_scopes("read")

    # 2026-05-15T01:00+14:00 is 2026-05-14T11:00Z: only the second event is after it.
    after = api.get("/api/v1/events/", {"received_at_after": "2026-05-15T01:00:00+14:00"})
    before = api.get("/api/v1/events/", {"received_at_before": "2026-05-15T01:00:00+14:00"})

    assert [e["received_at"][:10] for e in after.json()["results"]] == ["2026-05-16"]
    assert [e["received_at"][:10] for e in before.json()["results"]] == ["2026-05-14"]


def test_every_datetime_filter_is_the_validated_one():
    """A new FilterSet with a plain datetime filter fails here, before schemathesis finds it."""
    import_module(settings.ROOT_URLCONF)  # every FilterSet is imported by some view
    filtersets = []
    pending = list(django_filters.FilterSet.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        module = cls.__module__.split(".")[0]
        if module in {app.name.split(".")[0] for app in apps.get_app_configs()}:
            filtersets.append(cls)
    assert len(filtersets) > 10
    plain_kinds = (
        django_filters.IsoDateTimeFilter,
        django_filters.DateTimeFilter,
        django_filters.DateTimeFromToRangeFilter,
        django_filters.IsoDateTimeFromToRangeFilter,
    )
    plain = [
        f"{cls.__name__}.{name}"
        for cls in filtersets
        for name, declared in cls.base_filters.items()
        if isinstance(declared, plain_kinds) and not isinstance(declared, DateTimeFilter)
    ]
    assert plain == []
