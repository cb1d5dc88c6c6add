from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # Billing's own event handlers register themselves on import.
        from billing.handlers import invoices, master_data, payments, subscriptions  # noqa: F401
        from billing.remediation import register_event_remediation
        from billing.schedules import ensure_schedules_after_migrate
        from config import lookups  # noqa: F401  (field__any, for the batch path's preloads)

        register_event_remediation()
        post_migrate.connect(
            ensure_schedules_after_migrate, sender=self, dispatch_uid="billing.schedules"
        )
        # Services enqueue tasks by name; eager Celery runs a named task only if registered.
        import billing.tasks  # noqa: F401
