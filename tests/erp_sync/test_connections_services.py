import pytest

from erp_sync.errors import ConnectionSettingsError, SecretInSettingsError
from erp_sync.models import Connection
from erp_sync.services.connections import (
    connection_create,
    connection_health,
    connection_pause,
    connection_resume,
    connection_update,
)
from tests.erp_sync.factories import ConnectionFactory, LegalEntityFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("key", ["password", "api_token", "client_secret", "apiKey"])
def test_create_settings_with_secret_key_refused(key, role_users):
    LegalEntityFactory(code="US01")

    with pytest.raises(SecretInSettingsError) as refused:
        connection_create(
            data={
                "name": "t",
                "entity": "US01",
                "adapter_kind": "tryton",
                "settings": {"url": "http://x", "nested": {key: "v"}},
            },
            actor=role_users["integration_admin"],
        )

    assert "secret_env" in refused.value.message
    assert not Connection.objects.exists()


def test_create_secret_env_must_be_a_variable_name(role_users):
    LegalEntityFactory(code="US01")

    with pytest.raises(ConnectionSettingsError):
        connection_create(
            data={
                "name": "t",
                "entity": "US01",
                "adapter_kind": "tryton",
                "secret_env": "hunter2 is my password",
            },
            actor=None,
        )


def test_create_and_update_record_history(role_users):
    LegalEntityFactory(code="US01")
    admin = role_users["integration_admin"]

    connection = connection_create(
        data={"name": "US sandbox", "entity": "US01", "adapter_kind": "sandbox"}, actor=admin
    )
    connection_update(connection=connection, data={"max_concurrency": 2}, actor=admin)

    connection.refresh_from_db()
    assert connection.max_concurrency == 2
    latest = connection.history.latest()
    assert latest.history_user == admin and "max_concurrency" in latest.history_change_reason


def test_pause_then_resume_is_idempotent_with_reason():
    connection = ConnectionFactory()

    connection_pause(connection=connection, reason="month-end close", actor=None)
    again = connection_pause(connection=connection, reason="other", actor=None)
    resumed = connection_resume(connection=connection, actor=None)

    assert again.paused_reason == "month-end close"
    assert resumed.paused is False and resumed.paused_reason == ""
    assert connection.history.count() == 3


def test_health_of_tryton_without_secret_never_raises():
    connection = ConnectionFactory(
        adapter_kind="tryton",
        settings={"url": "http://127.0.0.1:9", "database": "x", "login": "admin"},
        secret_env="CONCORD_ERP_DEFINITELY_UNSET_VAR",
    )

    health = connection_health(connection)

    assert health.ok is False and "CONCORD_ERP_DEFINITELY_UNSET_VAR" in health.detail
