"""The ERP console lists read in as many queries for many rows as for a few (no N+1)."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.erp_sync.factories import (
    ConnectionFactory,
    LegalEntityFactory,
    MappingRuleFactory,
    make_invoice,
)
from tests.erp_sync.job_helpers import (
    dispatch,
    eager_celery,  # noqa: F401 (fixture)
    make_world,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager_celery")]


def _queries(user, url: str) -> int:
    client = Client()
    client.force_login(user)
    client.get(url)  # warm the session user's permission cache
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _add_jobs(count: int, capture) -> None:
    for _ in range(count):
        dispatch(make_invoice().event, capture=capture)


def _add_rules(count: int, offset: int) -> None:
    for n in range(offset, offset + count):
        MappingRuleFactory(product_family=f"family-{n}", cost_center=f"CC{n}")


def _add_connections(count: int, offset: int) -> None:
    for n in range(offset, offset + count):
        ConnectionFactory(entity=LegalEntityFactory(code=f"Q{n:02d}"))


def test_job_monitor_query_count_does_not_grow(role_users, django_capture_on_commit_callbacks):
    make_world()
    _add_jobs(2, django_capture_on_commit_callbacks)
    few = _queries(role_users["auditor"], "/erp/jobs/")
    _add_jobs(6, django_capture_on_commit_callbacks)
    many = _queries(role_users["auditor"], "/erp/jobs/")
    assert many == few


@pytest.mark.parametrize(
    ("url", "add"),
    [("/erp/rules/", _add_rules), ("/erp/connections/", _add_connections)],
)
def test_rule_and_connection_lists_query_count_does_not_grow(role_users, url, add):
    make_world()
    add(2, 0)
    few = _queries(role_users["integration_admin"], url)
    add(6, 10)
    many = _queries(role_users["integration_admin"], url)
    assert many == few
