import pytest

from config import health

pytestmark = pytest.mark.django_db


def test_healthz_with_broker_unreachable_answers_503_naming_the_broker(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["checks"]["broker"] != "ok"
    assert "ConnectionError" in body["checks"]["broker"]
    assert body["checks"]["database"] == "ok"


def test_healthz_with_database_failing_answers_503_naming_the_database(client, monkeypatch):
    monkeypatch.setattr(health, "_check_database", lambda: "OperationalError: database is down")

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "OperationalError: database is down"
    assert body["checks"]["broker"] == "ok"


def test_healthz_without_redis_url_reports_eager_broker(client, settings):
    settings.REDIS_URL = ""

    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json()["broker"] == "eager"
