"""`manage.py seed_demo` builds the demo company through the public ingestion, idempotently.

The demo runs at a small --scale here; `make demo-setup` (and .ci/run) runs the full size.
"""

import hashlib
import json
import random
import re
from dataclasses import dataclass
from datetime import date
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import transaction

from billing.demo.company import DemoCompany, closed_through_for
from billing.demo.data import SEED
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


def summary_line(output: str) -> str:
    return next(line for line in output.splitlines() if re.match(r"seed_demo: \d+ events", line))


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
    summary = summary_line(seeded.second_output)
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


def test_seed_demo_prints_a_line_per_stage_with_its_counts(seeded):
    lines = seeded.first_output.splitlines()
    stages = [line.removeprefix("seed_demo: ").split(":")[0] for line in lines[:6]]
    assert stages == [
        "reference data",
        "company events",
        "company events",
        "books",
        "problem events",
        "people",
    ]
    events = FinanceEvent.objects.count()
    problems = FinanceEvent.objects.filter(event_id__startswith="prb-").count()
    assert lines[0] == "seed_demo: reference data: 3 legal entities (3 new)"
    assert lines[1].startswith(f"seed_demo: company events: {events - problems} generated")
    assert lines[2].startswith(f"seed_demo: company events: {events - problems} sent: ")
    closed = LegalEntity.objects.get(code="DE01").closed_through
    assert lines[3] == f"seed_demo: books: DE01 closed through {closed}"
    quarantined = FinanceEvent.objects.filter(state="quarantined").count()
    assert lines[4] == f"seed_demo: problem events: {problems} sent: {quarantined} new quarantined"
    assert lines[5] == "seed_demo: people: 5 demo users, one per role"
    second = seeded.second_output.splitlines()
    assert second[0] == "seed_demo: reference data: 3 legal entities (0 new)"
    assert second[3].endswith("(already)")


# The digest of every demo event body (ids included), computed from the generator as it was
# before it was split into billing/demo/ (one 811-line command): the split, and any later
# change, must send exactly the same events for the same anchor day.
DEMO_DIGESTS = {  # (anchor, scale): (events, sha256 of the bodies, one JSON line each)
    (date(2026, 6, 15), 1.0): (
        2708,
        "e6ac8de4751b5da833c26f501fdb7a7c48c6a9795ef1deaa949e95edc2f78d42",
    ),
    (date(2026, 6, 15), 0.1): (
        274,
        "0d2103cc7910f8f6f3045a23e3da60d1f56503e27aea23022adb19309fa1a44d",
    ),
    (date(2024, 2, 29), 1.0): (
        2691,
        "8bd40a8168e16d6717d44dc5377402740132c1773e17015ec28ed52f5c24a16e",
    ),
}


def demo_bodies(anchor: date, scale: float) -> list[dict]:
    company = DemoCompany(anchor=anchor, rng=random.Random(SEED), scale=scale)
    return company.build() + company.problem_events(closed_through_for(anchor))


@pytest.mark.parametrize(("anchor", "scale"), list(DEMO_DIGESTS))
def test_demo_events_are_exactly_those_of_the_generator_before_the_split(anchor, scale):
    bodies = demo_bodies(anchor, scale)
    digest = hashlib.sha256()
    for body in bodies:
        digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n")

    assert (len(bodies), digest.hexdigest()) == DEMO_DIGESTS[(anchor, scale)]
