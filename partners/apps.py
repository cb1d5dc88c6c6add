from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"

    def ready(self) -> None:
        from billing.handlers import register
        from billing.signals import event_applied
        from partners.handlers import partner_upserted, settlement_approved
        from partners.services.attributions import on_event_applied

        register("partner.upserted")(partner_upserted)
        register("settlement.approved")(settlement_approved)
        # subscription.created with partner fields → an attribution (idempotent receiver).
        event_applied.connect(on_event_applied, dispatch_uid="partners.attributions")
