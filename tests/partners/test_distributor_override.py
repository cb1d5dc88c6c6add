"""A distributor earns an override on its resellers' deals when its agreement says so."""

from decimal import Decimal

import pytest

from partners.models import Accrual
from tests.partners import factories as f

pytestmark = pytest.mark.django_db


def _deal(*, override: bool):
    distributor = f.partner(kind="distributor")
    reseller = f.partner(kind="reseller", parent=distributor)
    f.agreement(of=distributor, rules=[f.rule("override-5", rate_percent="5")], override=override)
    f.agreement(of=reseller, rules=[f.rule("resell-20", rate_percent="20")])
    sub = f.subscription(buyer=f.customer(), seller=reseller)
    f.invoice(sub=sub, on="2026-04-03", lines=[f.line("1000.00")])
    f.recompute("2026-04-01")
    return distributor, reseller


def test_distributor_with_override_earns_on_reseller_deal_beside_the_reseller():
    distributor, reseller = _deal(override=True)

    assert Accrual.objects.get(partner=reseller).amount == Decimal("200.00")
    assert Accrual.objects.get(partner=distributor).amount == Decimal("50.00")


def test_distributor_without_override_earns_nothing_on_reseller_deal():
    distributor, reseller = _deal(override=False)

    assert Accrual.objects.get(partner=reseller).amount == Decimal("200.00")
    assert not Accrual.objects.filter(partner=distributor).exists()


def test_recompute_for_reseller_alone_leaves_distributor_accruals_untouched():
    distributor, reseller = _deal(override=True)

    count = f.recompute("2026-04-01", seller=reseller)

    assert (count.created, count.deleted, count.unchanged) == (0, 0, 1)
    assert Accrual.objects.filter(partner=distributor).count() == 1
