from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "config.accounts"
    label = "accounts"
    verbose_name = "Users, roles and API clients"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from config.accounts.append_only import install_after_migrate
        from config.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="concord-sync-roles")
        # Sent for this app after the whole migrate: every table exists by then.
        post_migrate.connect(
            install_after_migrate, sender=self, dispatch_uid="concord-append-only-triggers"
        )
        self._connect_security_events()

    def _connect_security_events(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.models import Group
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.db.models.signals import m2m_changed, post_save, pre_save

        from config.accounts import audit
        from config.accounts.models import ApiClient, User

        uid = "concord-security-"
        user_logged_in.connect(audit.on_user_logged_in, dispatch_uid=uid + "signin")
        user_login_failed.connect(audit.on_user_login_failed, dispatch_uid=uid + "signin-failed")
        user_locked_out.connect(audit.on_user_locked_out, dispatch_uid=uid + "locked-out")
        pre_save.connect(audit.on_api_client_saving, sender=ApiClient, dispatch_uid=uid + "c0")
        post_save.connect(audit.on_api_client_saved, sender=ApiClient, dispatch_uid=uid + "c1")
        m2m_changed.connect(
            audit.on_user_groups_changed, sender=User.groups.through, dispatch_uid=uid + "roles"
        )
        for through in (Group.permissions.through, User.user_permissions.through):
            m2m_changed.connect(
                audit.on_permissions_changed, sender=through, dispatch_uid=uid + through.__name__
            )
