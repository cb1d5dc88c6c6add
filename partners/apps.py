from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PartnersConfig(AppConfig):
    name = "partners"

    def ready(self) -> None:
        from billing.handlers import register
        from billing.signals import event_applied
        from partners.handlers import partner_upserted, payout_settled, settlement_approved
        from partners.schedules import ensure_schedules_after_migrate
        from partners.services.attributions import on_event_applied

        register("partner.upserted")(partner_upserted)
        register("settlement.approved")(settlement_approved)
        register("payout.settled")(payout_settled)
        # subscription.created with partner fields → an attribution (idempotent receiver).
        event_applied.connect(on_event_applied, dispatch_uid="partners.attributions")
        post_migrate.connect(
            ensure_schedules_after_migrate, sender=self, dispatch_uid="partners.schedules"
        )
