from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ReconciliationConfig(AppConfig):
    name = "reconciliation"

    def ready(self) -> None:
        from reconciliation import metrics
        from reconciliation.remediation import register_break_remediation
        from reconciliation.schedules import ensure_schedules_after_migrate

        post_migrate.connect(
            ensure_schedules_after_migrate, sender=self, dispatch_uid="reconciliation.schedules"
        )
        metrics.register()
        register_break_remediation()
