"""Security events: logged as JSON lines and stored as append-only rows an auditor can read."""

import json
import logging
import logging.config

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission

from config.accounts.models import SecurityEvent
from config.accounts.services import api_client_create, api_client_revoke

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def events(kind: str):
    return list(SecurityEvent.objects.filter(kind=kind).order_by("id"))


def sign_in(client, username, password=PASSWORD):
    return client.post("/accounts/login/", {"username": username, "password": password})


def test_sign_in_success_and_failure_are_recorded_with_name_and_address(client, make_user):
    make_user("ann", "auditor")

    sign_in(client, "ann", "wrong")
    sign_in(client, "nobody", "wrong")
    sign_in(client, "ann")

    failed = events("signin_failed")
    assert [(e.username, e.ip_address, e.path) for e in failed] == [
        ("ann", "127.0.0.1", "/accounts/login/"),
        ("nobody", "127.0.0.1", "/accounts/login/"),
    ]
    [succeeded] = events("signin_succeeded")
    assert (succeeded.user.username, succeeded.ip_address) == ("ann", "127.0.0.1")


def test_lock_out_is_recorded(client, make_user):
    make_user("ann", "auditor")

    for _ in range(django_settings.AXES_FAILURE_LIMIT):
        sign_in(client, "ann", "wrong")

    [locked] = events("locked_out")
    assert locked.username == "ann"


def test_api_client_creation_and_revocation_are_recorded_once(db):
    client, _ = api_client_create(name="crm", scopes=["read"], sources=["crm"])
    api_client_revoke(client=client)
    api_client_revoke(client=client)  # idempotent: no second event

    [created] = events("api_client_created")
    assert created.detail == {"client": "crm", "scopes": ["read"], "sources": ["crm"]}
    [revoked] = events("api_client_revoked")
    assert revoked.detail["client"] == "crm"


def test_role_changes_are_recorded_both_ways(make_user):
    user = make_user("ann")
    auditors = Group.objects.get(name="auditor")

    user.groups.add(auditors)
    auditors.user_set.remove(user)

    added, removed = events("roles_changed")
    assert added.detail == {"action": "add", "user": "ann", "roles": ["auditor"]}
    assert removed.detail == {"action": "remove", "group": "auditor", "users": ["ann"]}


def test_permission_changes_of_a_role_are_recorded(db):
    group = Group.objects.get(name="auditor")
    permission = Permission.objects.get(codename="change_case")

    group.permissions.add(permission)

    last = events("permissions_changed")[-1]
    assert last.detail == {
        "action": "add",
        "holder": "auditor",
        "permissions": ["exceptions.change_case"],
    }


def test_api_403_is_recorded_with_the_client_and_path(api_with_scopes):
    api = api_with_scopes("read")

    assert api.post("/api/v1/events", {}, format="json").status_code == 403

    [denied] = events("permission_denied")
    assert (denied.method, denied.path) == ("POST", "/api/v1/events")
    assert denied.username.startswith("api:client-")


def test_console_403_is_recorded(client, make_user):
    client.force_login(make_user("pat", "partner"))

    assert client.get("/accounts/security-events/").status_code == 403

    [denied] = events("permission_denied")
    assert (denied.username, denied.path) == ("pat", "/accounts/security-events/")


def test_security_event_is_a_structured_json_log_line(make_user, capsys):
    logging.config.dictConfig(django_settings.LOGGING)
    logging.getLogger("concord.security").setLevel(logging.INFO)
    try:
        make_user("ann", "auditor")
    finally:
        logging.getLogger("concord.security").setLevel(logging.NOTSET)

    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    [line] = [x for x in lines if x.get("logger") == "concord.security"]
    assert line["security_event"]["kind"] == "roles_changed"
    assert line["security_event"]["detail"]["roles"] == ["auditor"]


def test_auditor_reads_security_events_in_the_console(client, make_user):
    client.force_login(make_user("ann", "auditor"))

    response = client.get("/accounts/security-events/?kind=signin_succeeded")

    assert response.status_code == 200
    assert b'data-kind="signin_succeeded"' in response.content
    assert b'data-kind="roles_changed"' not in response.content
    assert b"Security events" in response.content


@pytest.mark.parametrize("role", ["finance_ops", "integration_admin", "channel_manager"])
def test_other_roles_cannot_read_security_events(client, make_user, role):
    client.force_login(make_user("someone", role))

    assert client.get("/accounts/security-events/").status_code == 403


def test_security_events_cannot_be_changed_or_deleted(make_user):
    make_user("ann", "auditor")
    event = SecurityEvent.objects.first()

    event.kind = "signin_succeeded"
    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        event.delete()
    with pytest.raises(TypeError, match="append-only"):
        SecurityEvent.objects.filter(pk=event.pk).update(kind="x")
    with pytest.raises(TypeError, match="append-only"):
        SecurityEvent.objects.all().delete()


def test_no_role_may_add_change_or_delete_security_events(role_users):
    for user in role_users.values():
        for action in ("add", "change", "delete"):
            assert not user.has_perm(f"accounts.{action}_securityevent")
