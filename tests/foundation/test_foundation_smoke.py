import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_ok_without_details(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_with_database_reachable_answers_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_any_response_echoes_a_given_correlation_id(client):
    response = client.get("/healthz", HTTP_X_CORRELATION_ID="abc-123")
    assert response["X-Correlation-ID"] == "abc-123"


def test_unsafe_correlation_id_is_replaced_by_a_generated_one(client):
    response = client.get("/healthz", HTTP_X_CORRELATION_ID="bad id\nwith newline")
    assert response["X-Correlation-ID"] != "bad id\nwith newline"
    assert len(response["X-Correlation-ID"]) == 32


def test_metrics_are_exported_in_prometheus_format(client, settings):
    settings.CONCORD_METRICS_TOKEN = "scrape-me"
    client.get("/healthz")
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert response.status_code == 200
    assert b"django_http_requests_total_by_method_total" in response.content
