from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from config.accounts.models import ApiClient

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("create_api_client", *args, stdout=out)
    return out.getvalue()


def test_create_api_client_prints_token_once_and_stores_only_a_hash():
    output = run(
        "billing-platform", "--scopes", "events:write,read", "--sources", "billing-platform"
    )

    token = output.strip().splitlines()[-1]
    assert output.count(token) == 1
    client = ApiClient.objects.get(name="billing-platform")
    assert client.scopes == ["events:write", "read"]
    assert client.is_valid(token)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiClient._meta.db_table} WHERE id = %s", [client.pk])
        row = cursor.fetchone()
    assert not any(token in str(value) for value in row)
    assert client.user.is_api_client
    assert not client.user.has_usable_password()


def test_create_api_client_with_unknown_scope_fails_and_creates_nothing():
    with pytest.raises(CommandError, match="unknown scope"):
        run("bad-client", "--scopes", "read,root")

    assert not ApiClient.objects.filter(name="bad-client").exists()


def test_create_api_client_with_taken_name_fails():
    run("twice", "--scopes", "read")

    with pytest.raises(CommandError, match="exists"):
        run("twice", "--scopes", "read")
