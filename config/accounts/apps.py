from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "config.accounts"
    label = "accounts"
    verbose_name = "Users, roles and API clients"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from config.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="concord-sync-roles")
