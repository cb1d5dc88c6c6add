import pytest
from django.contrib.auth.models import Group, Permission

from config.roles import AUDITOR, PARTNER, ROLE_PERMISSIONS, ROLES, permissions_for

pytestmark = pytest.mark.django_db

WRITE_VERBS = ("add_", "change_", "delete_", "replay_", "approve_", "discard_", "cancel_")


def all_codes() -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }


def group_codes(role: str) -> set[str]:
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Group.objects.get(name=role).permissions.select_related("content_type")
    }


def test_every_role_group_exists_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_role_group_holds_exactly_the_permissions_roles_py_says(role):
    codes = all_codes()

    assert group_codes(role) == permissions_for(role, codes)
    assert group_codes(role) >= ROLE_PERMISSIONS[role] & codes


def test_auditor_holds_only_view_permissions():
    held = group_codes(AUDITOR)

    assert held
    assert all(code.split(".")[1].startswith("view_") for code in held), held
    assert not [c for c in held if c.split(".")[1].startswith(WRITE_VERBS)]


def test_auditor_can_view_every_domain_model():
    held = group_codes(AUDITOR)
    domain_views = {
        c
        for c in all_codes()
        if c.split(".")[0] in {"billing", "partners", "erp_sync", "reconciliation", "exceptions"}
        and ".view_" in c
    }

    assert domain_views <= held


def test_partner_role_reads_only_its_own_statements():
    assert group_codes(PARTNER) <= {"partners.view_own_statements"}


def test_role_permissions_are_checked_through_has_perm(make_user):
    auditor = make_user("audrey", AUDITOR)

    assert auditor.has_perm("billing.view_invoice")
    assert not auditor.has_perm("billing.replay_financeevent")


def test_every_permission_a_role_lists_exists_after_migrate():
    existing = {
        f"{app}.{codename}"
        for app, codename in Permission.objects.values_list("content_type__app_label", "codename")
    }
    for role in ROLES:
        missing = ROLE_PERMISSIONS[role] - existing
        assert not missing, f"{role} lists permissions that do not exist: {sorted(missing)}"
