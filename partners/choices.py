from django.db import models


class PartnerKind(models.TextChoices):
    REFERRAL = "referral", "Referral"
    RESELLER = "reseller", "Reseller"
    DISTRIBUTOR = "distributor", "Distributor"
