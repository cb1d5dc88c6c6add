"""A connection may only name secret variables in the CONCORD_ERP_ namespace."""

import pytest
from django.core.exceptions import ValidationError

from erp_sync.adapters.base import NonRetryableError
from erp_sync.adapters.registry import adapter_for
from erp_sync.api.serializers import ConnectionSerializer
from erp_sync.errors import ConnectionSettingsError
from erp_sync.models import Connection
from erp_sync.services.connections import connection_create, connection_update
from tests.erp_sync.factories import ConnectionFactory, LegalEntityFactory

pytestmark = pytest.mark.django_db

TRYTON_SETTINGS = {"url": "http://127.0.0.1:9", "database": "x", "login": "admin"}


@pytest.mark.parametrize("name", ["DJANGO_SECRET_KEY", "DATABASE_URL", "CONCORD_METRICS_TOKEN"])
def test_create_with_a_secret_env_outside_the_prefix_is_refused(name):
    LegalEntityFactory(code="US01")

    with pytest.raises(ConnectionSettingsError, match="CONCORD_ERP_") as refused:
        connection_create(
            data={"name": "t", "entity": "US01", "adapter_kind": "tryton", "secret_env": name},
            actor=None,
        )

    assert refused.value.field == "secret_env"
    assert not Connection.objects.exists()


def test_update_to_a_secret_env_outside_the_prefix_is_refused_and_keeps_the_old():
    connection = ConnectionFactory(secret_env="CONCORD_ERP_US01")

    with pytest.raises(ConnectionSettingsError, match="CONCORD_ERP_"):
        connection_update(
            connection=connection, data={"secret_env": "DJANGO_SECRET_KEY"}, actor=None
        )

    connection.refresh_from_db()
    assert connection.secret_env == "CONCORD_ERP_US01"


def test_create_with_a_prefixed_secret_env_is_stored():
    LegalEntityFactory(code="US01")

    connection = connection_create(
        data={
            "name": "t",
            "entity": "US01",
            "adapter_kind": "tryton",
            "secret_env": "CONCORD_ERP_US01_PASSWORD",
            "settings": TRYTON_SETTINGS,
        },
        actor=None,
    )

    assert connection.secret_env == "CONCORD_ERP_US01_PASSWORD"


def test_model_validation_refuses_a_secret_env_outside_the_prefix():
    connection = ConnectionFactory.build(secret_env="DJANGO_SECRET_KEY")

    with pytest.raises(ValidationError, match="CONCORD_ERP_"):
        connection.clean()  # full_clean would trip over the protected FSM field


def test_serializer_validation_refuses_a_secret_env_outside_the_prefix():
    with pytest.raises(ValidationError, match="CONCORD_ERP_"):
        ConnectionSerializer().validate_secret_env("DJANGO_SECRET_KEY")


def test_adapter_never_reads_a_variable_outside_the_prefix(monkeypatch):
    """Even a row written around the services (SQL, admin) cannot leak another variable."""
    monkeypatch.setenv("DJANGO_SECRET_KEY", "do-not-send")
    connection = ConnectionFactory(adapter_kind="tryton", settings=TRYTON_SETTINGS)
    Connection.objects.filter(pk=connection.pk).update(secret_env="DJANGO_SECRET_KEY")
    connection.refresh_from_db()

    with pytest.raises(NonRetryableError, match="CONCORD_ERP_"):
        adapter_for(connection)
