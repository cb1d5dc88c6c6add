from django.apps import AppConfig


class PartnersConfig(AppConfig):
    name = "partners"

    def ready(self) -> None:
        from billing.handlers import register
        from partners.handlers import partner_upserted

        register("partner.upserted")(partner_upserted)
