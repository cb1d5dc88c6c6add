"""The demo company's reference data, read from company.toml beside this module.

Typed here once (Decimal money, tuples in the file's order) so the generators read plain
constants. The file's order is part of the demo: the generators draw over these lists.
"""

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

SOURCE = "billing-platform"
METERING_SOURCE = "usage-metering"
SEED = 42


@dataclass(frozen=True)
class EntitySpec:
    code: str
    name: str
    currency: str
    country: str
    tax_code: str
    tax_rate: Decimal
    customers: int  # at full size


@dataclass(frozen=True)
class PlanSpec:
    family: str
    interval: str
    usd_price: Decimal
    seats_low: int
    seats_high: int


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    does: str


def _load() -> dict:
    with (Path(__file__).with_name("company.toml")).open("rb") as handle:
        return tomllib.load(handle)


_RAW = _load()

ENTITIES = tuple(
    EntitySpec(**{**entity, "tax_rate": Decimal(entity["tax_rate"])}) for entity in _RAW["entities"]
)
EXEMPT_TAX_CODE: str = _RAW["exempt_tax_code"]
FX = {currency: Decimal(rate) for currency, rate in _RAW["fx"].items()}
PLANS = {
    code: PlanSpec(
        family=plan["family"],
        interval=plan["interval"],
        usd_price=Decimal(plan["usd_price"]),
        seats_low=plan["seats"][0],
        seats_high=plan["seats"][1],
    )
    for code, plan in _RAW["plans"].items()
}
PLAN_WEIGHTS = tuple(plan["weight"] for plan in _RAW["plans"].values())
USAGE_METER = (_RAW["usage_meter"]["meter"], Decimal(_RAW["usage_meter"]["usd_price"]))
PAYMENT_METHODS = tuple(_RAW["names"]["payment_methods"])
REGIONS = {country: tuple(codes) for country, codes in _RAW["names"]["regions"].items()}
NAME_FIRST = tuple(_RAW["names"]["first"])
NAME_SECOND = tuple(_RAW["names"]["second"])
LEGAL_SUFFIX: dict[str, str] = _RAW["names"]["legal_suffix"]
PARTNER_ROLES: dict[str, str] = _RAW["partner_roles"]
INDEPENDENT_REFERRERS = tuple(tuple(row) for row in _RAW["partners"]["independent_referrers"])
STAMP_HOUR: dict[str, int] = _RAW["stamp_hour"]
DEMO_USERS = tuple(DemoUser(**user) for user in _RAW["users"])
DEMO_PARTNER_ID: str = _RAW["demo_partner_id"]
PASSWORD: str = _RAW["password"]
LOGIN_URL: str = _RAW["login_url"]
