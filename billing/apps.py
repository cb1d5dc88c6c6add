from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # Billing's own event handlers register themselves on import.
        from billing.handlers import invoices, master_data, payments, subscriptions  # noqa: F401
        from billing.remediation import register_event_remediation
        from config import lookups  # noqa: F401  (field__any, for the batch path's preloads)

        register_event_remediation()
