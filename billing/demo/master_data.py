"""Customers and the partner hierarchy of the demo company."""

from datetime import date, timedelta
from decimal import Decimal

from billing.demo.data import (
    ENTITIES,
    EXEMPT_TAX_CODE,
    INDEPENDENT_REFERRERS,
    LEGAL_SUFFIX,
    NAME_FIRST,
    NAME_SECOND,
    REGIONS,
)
from billing.demo.records import Customer, EventLog, short_id

PARTNER_SUFFIX = {"distributor": "Distribution", "reseller": "Solutions", "referral": "Advisors"}


class MasterData(EventLog):
    def company_name(self, country: str) -> str:
        first = self.rng.choice(NAME_FIRST)
        second = self.rng.choice(NAME_SECOND)
        return f"{first} {second} {LEGAL_SUFFIX[country]}"

    def build_customers(self) -> None:
        opened = self.anchor - timedelta(days=400)
        for spec in ENTITIES:
            code, currency, country = spec.code, spec.currency, spec.country
            for n in range(1, max(3, round(spec.customers * self.scale)) + 1):
                exempt = self.rng.random() < 0.1
                customer = Customer(
                    customer_id=f"CUS-{code}-{n:03d}",
                    entity=code,
                    currency=currency,
                    country=country,
                    tax_code=EXEMPT_TAX_CODE if exempt else spec.tax_code,
                    tax_rate=Decimal(0) if exempt else spec.tax_rate,
                )
                self.customers.append(customer)
                data = {
                    "customer_id": customer.customer_id,
                    "name": self.company_name(country),
                    "country": country,
                    "currency": currency,
                    "region": self.rng.choice(REGIONS[country]),
                }
                if country != "US":
                    data["tax_id"] = f"{country}{self.rng.randrange(10**8, 10**9)}"
                self.emit(
                    "customer.upserted",
                    code,
                    opened,
                    data,
                    event_id=short_id("cus", customer.customer_id),
                )

    def build_partners(self) -> None:
        """3 distributors → 9 resellers → 6 referral partners, plus 4 independent referrers."""
        opened = self.anchor - timedelta(days=401)
        for spec in ENTITIES:
            code, currency, country = spec.code, spec.currency, spec.country
            short = "UK" if country == "GB" else country
            ids = self.partners.setdefault(country, [])
            distributor = f"PRT-DIST-{short}"
            self.partner(code, opened, distributor, "distributor", None, country, currency)
            ids.append(distributor)
            for r in range(1, 4):
                reseller = f"PRT-RES-{short}-{r}"
                self.partner(code, opened, reseller, "reseller", distributor, country, currency)
                ids.append(reseller)
                if r <= 2:
                    referral = f"PRT-REF-{short}-{r}"
                    self.partner(code, opened, referral, "referral", reseller, country, currency)
                    ids.append(referral)
        for n, (code, currency, country) in enumerate(INDEPENDENT_REFERRERS, start=1):
            referral = f"PRT-REF-IND-{n}"
            self.partner(code, opened, referral, "referral", None, country, currency)
            self.partners[country].append(referral)

    def partner(self, entity: str, day: date, partner_id: str, kind: str, parent: str | None,
                country: str, currency: str) -> None:  # fmt: skip
        data = {
            "partner_id": partner_id,
            "name": f"{self.rng.choice(NAME_FIRST)} {PARTNER_SUFFIX[kind]} {LEGAL_SUFFIX[country]}",
            "kind": kind,
            "country": country,
            "currency": currency,
        }
        if parent:
            data["parent_partner_id"] = parent
        self.emit("partner.upserted", entity, day, data, event_id=f"ptr-{partner_id}")
