import pytest

from erp_sync.models import Connection, MaintenanceWindow
from tests.erp_sync.factories import ConnectionFactory, LegalEntityFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/connections"


@pytest.fixture
def connection(monkeypatch):
    monkeypatch.setenv("CONCORD_ERP_TEST_PASSWORD", "hunter2-very-secret")
    connection = ConnectionFactory(
        entity=LegalEntityFactory(code="US01"), secret_env="CONCORD_ERP_TEST_PASSWORD"
    )
    # A legacy row written around the service: the API must still not show the value.
    Connection.objects.filter(pk=connection.pk).update(
        settings={"latency_ms": 5, "api_token": "tok-legacy-secret"}
    )
    return connection


def test_list_and_detail_never_show_secret_values(api_for_role, connection):
    api = api_for_role("auditor")

    listed = api.get(URL)
    detail = api.get(f"{URL}/{connection.pk}")

    assert listed.status_code == 200 and detail.status_code == 200
    for response in (listed, detail):
        text = response.content.decode()
        assert "hunter2-very-secret" not in text and "tok-legacy-secret" not in text
    body = detail.json()
    assert body["secret_env"] == "CONCORD_ERP_TEST_PASSWORD"
    assert body["settings"]["api_token"] == "***" and body["settings"]["latency_ms"] == 5
    assert body["circuit_state"] == "closed" and body["in_flight"] == 0
    assert body["maintenance_windows"] == []


def test_health_of_sandbox_in_outage_answers_ok_false(api_for_role, connection):
    Connection.objects.filter(pk=connection.pk).update(
        settings={"outage": [{"start": "2000-01-01T00:00:00Z", "end": "2999-01-01T00:00:00Z"}]}
    )

    response = api_for_role("auditor").get(f"{URL}/{connection.pk}/health")

    assert response.status_code == 200
    assert response.json()["ok"] is False and "connection refused" in response.json()["detail"]


def test_pause_resume_and_windows_as_integration_admin(api_for_role, connection):
    api = api_for_role("integration_admin")

    paused = api.post(f"{URL}/{connection.pk}/pause", {"reason": "ERP upgrade"}, format="json")
    window = api.post(
        f"{URL}/{connection.pk}/maintenance-windows",
        {"starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-01T04:00:00Z", "reason": "up"},
        format="json",
    )
    resumed = api.post(f"{URL}/{connection.pk}/resume", {}, format="json")
    removed = api.delete(f"{URL}/{connection.pk}/maintenance-windows/{window.json()['id']}")

    assert paused.status_code == 200 and paused.json()["paused_reason"] == "ERP upgrade"
    assert window.status_code == 201
    assert resumed.status_code == 200 and resumed.json()["paused"] is False
    assert removed.status_code == 204 and not MaintenanceWindow.objects.exists()


def test_window_ending_before_start_answers_400(api_for_role, connection):
    response = api_for_role("integration_admin").post(
        f"{URL}/{connection.pk}/maintenance-windows",
        {"starts_at": "2026-06-01T04:00:00Z", "ends_at": "2026-06-01T00:00:00Z"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "window_inverted"


@pytest.mark.parametrize("role", ["finance_ops", "auditor"])
def test_pause_without_permission_returns_403(api_for_role, connection, role):
    response = api_for_role(role).post(
        f"{URL}/{connection.pk}/pause", {"reason": "x"}, format="json"
    )

    assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.paused is False


def test_pause_api_client_needs_sync_write_scope(api_with_scopes, connection):
    url = f"{URL}/{connection.pk}/pause"

    assert api_with_scopes("read").post(url, {"reason": "x"}, format="json").status_code == 403
    assert (
        api_with_scopes("sync:write").post(url, {"reason": "x"}, format="json").status_code == 200
    )
