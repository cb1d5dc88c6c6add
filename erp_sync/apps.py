from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ErpSyncConfig(AppConfig):
    name = "erp_sync"

    def ready(self) -> None:
        # --- sync job engine: dispatch on event_applied, beat schedule, case remediation ---
        from billing.models import FinanceEvent
        from billing.signals import event_applied, outbox_subscribe
        from erp_sync.documents import EVENT_DOCUMENT_TYPES
        from erp_sync.models import Connection, SyncJob
        from erp_sync.receivers import on_documents_posted, on_event_applied
        from erp_sync.remediation import BlockedJobsRemediation, SyncJobRemediation
        from erp_sync.schedules import ensure_schedules_after_migrate
        from erp_sync.signals import documents_posted
        from exceptions.remediation import register_remediation

        event_applied.connect(
            on_event_applied, sender=FinanceEvent, dispatch_uid="erp_sync.dispatch_event"
        )
        # A settlement's vendor bill posted → the settlement is posted (partners' service).
        documents_posted.connect(
            on_documents_posted, sender=SyncJob, dispatch_uid="erp_sync.settlements_posted"
        )
        # Events that post a document wait in billing's outbox until their jobs exist.
        outbox_subscribe(EVENT_DOCUMENT_TYPES)
        post_migrate.connect(
            ensure_schedules_after_migrate, sender=self, dispatch_uid="erp_sync.schedules"
        )
        register_remediation(SyncJob, SyncJobRemediation())
        register_remediation(Connection, BlockedJobsRemediation())
        # Register the tasks in every process: services enqueue them by name, and eager
        # Celery (no REDIS_URL) runs a named task only if it is registered.
        import erp_sync.tasks  # noqa: F401
