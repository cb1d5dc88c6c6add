"""Roles are Django groups; this module says which permissions each one holds.

The groups are created by a data migration (accounts 0002). Their permissions are synced
after every migrate, so a permission that a later app adds reaches its roles without a new
data migration. Code checks permissions, never group names or usernames.
"""

from django.apps import apps as global_apps

FINANCE_OPS = "finance_ops"
CHANNEL_MANAGER = "channel_manager"
INTEGRATION_ADMIN = "integration_admin"
AUDITOR = "auditor"
PARTNER = "partner"
ROLES = (FINANCE_OPS, CHANNEL_MANAGER, INTEGRATION_ADMIN, AUDITOR, PARTNER)

# App labels whose view_* permissions every internal role gets.
_READ_APPS = ("billing", "partners", "erp_sync", "reconciliation", "exceptions")

# Only permissions that exist: the reconciliation issue adds finance_ops' run one.
ROLE_PERMISSIONS: dict[str, set[str]] = {
    FINANCE_OPS: {
        "billing.replay_financeevent",
        "billing.discard_financeevent",
        "billing.correct_financeevent",
        "exceptions.change_case",
        "exceptions.add_casecomment",
        "erp_sync.replay_syncjob",
        "erp_sync.cancel_syncjob",
        "erp_sync.post_next_open_syncjob",
        "reconciliation.add_reconciliationrun",
        "reconciliation.change_break",
        "reconciliation.change_match",
    },
    CHANNEL_MANAGER: {
        "exceptions.add_casecomment",
        # Agreements (a change is a new version) and attribution of deals to partners.
        "partners.add_agreement",
        "partners.change_agreement",
        "partners.add_attribution",
        "partners.change_attribution",
        # Settlements: open, calculate, submit, reject/reopen, mark paid; approve one that
        # someone else submitted (four-eyes is enforced by the service, not by the role).
        "partners.add_settlement",
        "partners.change_settlement",
        "partners.approve_settlement",
    },
    INTEGRATION_ADMIN: {
        "erp_sync.add_connection",
        "erp_sync.change_connection",
        "erp_sync.add_mappingrule",
        "erp_sync.change_mappingrule",
        "erp_sync.replay_syncjob",
        "accounts.add_apiclient",
        "accounts.change_apiclient",
        "accounts.view_apiclient",
    },
    AUDITOR: {"accounts.view_apiclient", "accounts.view_securityevent"},
    PARTNER: {"partners.view_own_statements"},
}
# Internal roles read everything in the domain apps.
_INTERNAL = (FINANCE_OPS, CHANNEL_MANAGER, INTEGRATION_ADMIN, AUDITOR)


def permissions_for(role: str, all_codes: set[str]) -> set[str]:
    """The existing permission codes ("app.codename") a role holds."""
    # Intersected with what exists: roles are synced after each app's migrate, before the
    # permissions of later apps exist (tests check every listed code exists in the end).
    wanted = set(ROLE_PERMISSIONS[role])
    if role in _INTERNAL:
        wanted |= {c for c in all_codes if c.split(".")[0] in _READ_APPS and ".view_" in c}
    return wanted & all_codes


def sync_roles(apps=global_apps) -> None:
    """Create the role groups if missing and set their permissions exactly. Idempotent."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    by_code = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in Permission.objects.select_related("content_type")
    }
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.set([by_code[c] for c in sorted(permissions_for(role, set(by_code)))])


def sync_roles_after_migrate(sender, **kwargs) -> None:
    # post_migrate is sent once per app (each app's permissions are created on its own, by
    # django.contrib.auth's receiver, connected before this one): sync once, on the last
    # app's, when every permission exists. Each test flush sends it too: 18 syncs were 0.9 s.
    if sender is _last_app_with_models():
        sync_roles()


def _last_app_with_models():
    # emit_post_migrate_signal sends for these, in this order.
    return [config for config in global_apps.get_app_configs() if config.models_module][-1]
