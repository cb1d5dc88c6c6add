"""A request the database fails (down, restarting, connection cut) answers 503 saying so.

The API answers its error shape with code `database_unavailable` and Retry-After; the
console a plain page; never a 500 and never the exception text. Whether the error comes
from a DRF view, a console view or a middleware before any view. The database restart drill
(tests/drills/test_database_restart.py) shows it against a real restart.
"""

import pytest
from django.db import InterfaceError, OperationalError
from django.test import Client
from rest_framework.views import APIView

pytestmark = pytest.mark.django_db

SECRET = "could not connect to server at 10.0.0.7 port 5432 user concord_prod"


def _assert_api_503(response):
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert [e["code"] for e in body["errors"]] == ["database_unavailable"]
    assert SECRET not in response.content.decode()


@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_api_view_the_database_fails_answers_503_error_shape(api_with_scopes, monkeypatch, error):
    api = api_with_scopes("read")

    def fail(self, request, *args, **kwargs):
        raise error(SECRET)

    monkeypatch.setattr(APIView, "initial", fail)
    _assert_api_503(api.get("/api/v1/cases"))


def test_console_view_the_database_fails_answers_503_page(make_user, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("ops", "finance_ops"))

    def fail(*args, **kwargs):
        raise OperationalError(SECRET)

    monkeypatch.setattr("config.views.render", fail)
    response = client.get("/")
    assert response.status_code == 503
    assert b"cannot reach its database" in response.content
    assert SECRET.encode() not in response.content


def test_middleware_the_database_fails_answers_503(make_user, monkeypatch):
    """The session is read in a middleware, before any view: handler500 answers 503."""
    from django.contrib.sessions.backends.db import SessionStore

    client = Client(raise_request_exception=False)
    client.force_login(make_user("ops", "finance_ops"))

    def fail(self):
        raise OperationalError(SECRET)

    monkeypatch.setattr(SessionStore, "load", fail)
    _assert_api_503(client.get("/api/v1/cases"))
    page = client.get("/")
    assert page.status_code == 503
    assert SECRET.encode() not in page.content


def test_other_errors_are_still_a_plain_500(make_user, monkeypatch):
    client = Client(raise_request_exception=False)
    client.force_login(make_user("ops", "finance_ops"))

    def fail(*args, **kwargs):
        raise ValueError(SECRET)

    monkeypatch.setattr("config.views.render", fail)
    response = client.get("/")
    assert response.status_code == 500
    assert SECRET.encode() not in response.content
