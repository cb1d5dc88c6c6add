from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ExceptionsConfig(AppConfig):
    name = "exceptions"

    def ready(self) -> None:
        from exceptions.schedules import ensure_schedules_after_migrate

        post_migrate.connect(
            ensure_schedules_after_migrate, sender=self, dispatch_uid="exceptions.schedules"
        )
        # Registered in every process: beat sends it by name.
        import exceptions.tasks  # noqa: F401
