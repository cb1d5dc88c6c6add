"""`manage.py seed_demo` builds the demo company through the public ingestion, idempotently.

The demo runs at a small --scale here; `make demo-setup` (and .ci/run) runs the full size.
"""

from dataclasses import dataclass
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction

from billing.models import (
    CreditNote,
    Customer,
    FinanceEvent,
    Invoice,
    InvoiceLine,
    LegalEntity,
    Payment,
    PaymentAllocation,
    Refund,
    Subscription,
    UsageRecord,
    WriteOff,
)
from exceptions.models import Case
from partners.models import Partner

pytestmark = pytest.mark.django_db

SCALE = "0.1"
COUNTED = (
    FinanceEvent,
    LegalEntity,
    Customer,
    Subscription,
    UsageRecord,
    Invoice,
    InvoiceLine,
    CreditNote,
    Payment,
    PaymentAllocation,
    Refund,
    WriteOff,
    Partner,
    Case,
    get_user_model(),
)
DEMO_ROLES = {
    "ops": "finance_ops",
    "channel": "channel_manager",
    "admin": "integration_admin",
    "auditor": "auditor",
    "partner": "partner",
}


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", "--scale", SCALE, stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in COUNTED}


@dataclass
class SeedRuns:
    first_output: str
    second_output: str
    counts_after_first: dict[str, int]
    counts_after_second: dict[str, int]


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed twice once for the module, inside a transaction rolled back afterwards.

    Each test's own `db` transaction nests in it (a savepoint), so the tests read the seeded
    demo without paying for a seed each.
    """
    with django_db_blocker.unblock(), transaction.atomic():
        first = seed()
        after_first = counts()
        second = seed()
        yield SeedRuns(first, second, after_first, counts())
        transaction.set_rollback(True)


def test_seed_demo_run_twice_creates_nothing_the_second_time(seeded):
    assert seeded.counts_after_second == seeded.counts_after_first
    assert seeded.counts_after_first["FinanceEvent"] > 200
    assert "new applied" in seeded.first_output
    summary = seeded.second_output.splitlines()[0]
    assert f"({seeded.counts_after_first['FinanceEvent']} duplicate)" in summary


def test_seed_demo_sends_every_record_through_the_event_log(seeded):
    assert FinanceEvent.objects.filter(state="applied").count() > 200
    for model in (Customer, Subscription, Invoice, Payment, CreditNote, Refund, WriteOff):
        assert model.objects.exists(), f"the demo has no {model.__name__}"
        assert not model.objects.filter(event__isnull=True).exists()
    assert set(FinanceEvent.objects.values_list("type", flat=True)) >= {
        "customer.upserted",
        "partner.upserted",
        "subscription.created",
        "subscription.amended",
        "subscription.cancelled",
        "usage.recorded",
        "invoice.issued",
        "credit_note.issued",
        "payment.settled",
        "refund.issued",
        "invoice.written_off",
    }


def test_seed_demo_invoices_add_up_exactly(seeded):
    for invoice in Invoice.objects.prefetch_related("lines"):
        lines = list(invoice.lines.all())
        assert sum(line.amount for line in lines) == invoice.subtotal_amount
        assert sum(line.tax_amount for line in lines) == invoice.tax_amount
        assert invoice.subtotal_amount + invoice.tax_amount == invoice.total_amount
    assert Invoice.objects.filter(state="partially_paid").exists()
    assert Invoice.objects.filter(state="written_off").exists()


def test_seed_demo_builds_three_entities_and_a_partner_hierarchy(seeded):
    assert dict(LegalEntity.objects.values_list("code", "currency")) == {
        "US01": "USD",
        "DE01": "EUR",
        "UK01": "GBP",
    }
    assert Partner.objects.count() >= 20
    referral_under_reseller = Partner.objects.filter(
        kind="referral", parent__kind="reseller", parent__parent__kind="distributor"
    )
    assert referral_under_reseller.exists()
    assert Subscription.objects.exclude(partner_code="").exists()


def test_seed_demo_leaves_a_handful_of_quarantined_events_with_open_cases(seeded):
    quarantined = FinanceEvent.objects.filter(state="quarantined")
    assert 5 <= quarantined.count() <= 8
    event_type = ContentType.objects.get_for_model(FinanceEvent)
    for event in quarantined:
        case = Case.objects.get(subject_type=event_type, subject_id=str(event.pk))
        assert case.state == "open"
        assert case.kind == event.quarantine_reason
    reasons = set(quarantined.values_list("quarantine_reason", flat=True))
    assert {"unknown_subscription", "unknown_customer", "currency_mismatch"} <= reasons
    assert "closed_period" in reasons
    assert LegalEntity.objects.get(code="DE01").closed_through is not None


def test_seed_demo_creates_one_demo_user_per_role_and_prints_the_login_box(seeded):
    output = seeded.first_output

    for username, role in DEMO_ROLES.items():
        user = get_user_model().objects.get(username=username)
        assert user.check_password("concord-demo")
        assert user.role_names == [role]
    partner_user = get_user_model().objects.get(username="partner")
    assert Partner.objects.filter(partner_id=partner_user.partner_code).exists()
    assert "http://127.0.0.1:8000/" in output
    assert "password: concord-demo" in output
    assert "user: ops" in output
