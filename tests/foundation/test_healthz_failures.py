"""Readiness names the failing dependency, found by really failing to reach it."""

import socket

import pytest
from django.db.utils import ConnectionHandler

from config import health

pytestmark = pytest.mark.django_db


def _closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _assert_no_exception_text(response, port: int) -> None:
    text = response.content.decode()
    for leaked in ("Error", "refused", "Traceback", "127.0.0.1", str(port), "postgres"):
        assert leaked not in text, f"{leaked!r} leaked into {text}"


def test_readyz_with_broker_on_closed_port_answers_503_naming_the_broker(client, settings):
    port = _closed_port()
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failing"] == ["broker"]
    assert body["checks"] == {"database": "ok", "broker": "unavailable"}
    _assert_no_exception_text(response, port)


def test_readyz_with_database_on_closed_port_answers_503_naming_the_database(
    client, settings, monkeypatch
):
    settings.CELERY_BROKER_URL = "memory://localhost/"
    port = _closed_port()
    unreachable = ConnectionHandler(
        {
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": "127.0.0.1",
                "PORT": port,
                "NAME": "concord_unreachable",
                "USER": "postgres",
                "OPTIONS": {"connect_timeout": 2},
            }
        }
    )
    monkeypatch.setattr(health, "connections", unreachable)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["checks"]["database"] == "unavailable"
    _assert_no_exception_text(response, port)


def test_healthz_is_liveness_and_ignores_a_down_broker(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{_closed_port()}/0"

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_without_a_redis_broker_reports_eager(client, settings):
    settings.CELERY_BROKER_URL = "memory://localhost/"

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "eager"


def test_metrics_without_token_or_allowed_address_answers_403(client, settings):
    settings.CONCORD_METRICS_TOKEN = "scrape-me"
    settings.CONCORD_METRICS_ALLOWED_IPS = []

    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


def test_metrics_with_no_token_configured_refuses_an_empty_bearer(client, settings):
    settings.CONCORD_METRICS_TOKEN = ""
    settings.CONCORD_METRICS_ALLOWED_IPS = []

    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


def test_metrics_with_the_token_answers_200(client, settings):
    settings.CONCORD_METRICS_TOKEN = "scrape-me"

    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")

    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content


def test_metrics_from_an_allowed_address_answers_200(client, settings):
    settings.CONCORD_METRICS_TOKEN = ""
    settings.CONCORD_METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 403
