"""Property: for random partner accruals and the settlement lines paying them, with injected
defects (never settled, settled for a different amount, in another currency, paid by a line
that lost its accrual, paid twice, a line no accrual stands behind; partners of another
entity; periods ending before, in and after the run's month; late accruals on a later
statement), the partners scope's set-based statements find the same breaks as a
straightforward Python reference of the rule (docs/decisions.md, issue 10, third session).

Run on SQLite and on PostgreSQL (DATABASE_URL): both must agree with the same reference.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from partners.models import Accrual, Agreement, CommissionRule, Partner, Settlement, SettlementLine
from reconciliation.choices import BreakKind, RunScope
from reconciliation.models import CurrencyTolerance, ReconciliationRun, TotalsRow
from reconciliation.services.totals_sql import partner_totals_store, totals_breaks_found
from tests.reconciliation.factories import (
    MAY_END,
    MAY_START,
    ConnectionFactory,
    LegalEntityFactory,
)

pytestmark = pytest.mark.django_db
D = Decimal
_ids = itertools.count()

# Partners 0-2 are paid by the run's entity (US01), partner 3 by another one (GB01).
PARTNERS = 4
OURS = {0, 1, 2}
# Settlement periods: April, May, June, a quarter ending in May, one ending in April (no two
# share a start: a partner has one statement per period start and currency).
PERIODS = [
    (dt.date(2026, 4, 1), dt.date(2026, 4, 30)),
    (dt.date(2026, 5, 1), dt.date(2026, 5, 31)),
    (dt.date(2026, 6, 1), dt.date(2026, 6, 30)),
    (dt.date(2026, 3, 1), dt.date(2026, 5, 31)),
    (dt.date(2026, 2, 1), dt.date(2026, 4, 30)),
]
CURRENCIES = ["USD", "EUR", "JPY"]
# What happens to an accrual on the statement side.
FATES = [
    "settled",  # one line, its amount, on a statement of the drawn period
    "unsettled",  # no line
    "amount",  # one line, its amount + delta
    "currency",  # one line in the next currency (on that currency's statement)
    "unlinked",  # a line of its amount whose accrual link a recompute cleared
    "duplicate",  # its line and a second, unlinked line of the same amount
]
# Differences in ten-thousandths: around one cent (USD/EUR tolerance 0.01 when no row) and
# one yen (JPY tolerance 1), and the EUR row's 0.05 when drawn.
DELTAS = [1, 99, 100, 101, 499, 500, 501, 9999, 10000, 10001, -100, -101, -50000]

amount = st.integers(-2_000_000, 20_000_000)  # ten-thousandths: -200.0000 .. 2000.0000
accrual_spec = st.tuples(
    st.integers(0, PARTNERS - 1),
    st.integers(0, len(PERIODS) - 1),  # the accrual's period
    st.integers(0, len(CURRENCIES) - 1),
    amount,
    st.sampled_from(FATES),
    st.integers(0, len(PERIODS) - 1),  # the period of the statement paying it
    st.sampled_from(DELTAS),
)
orphan_spec = st.tuples(
    st.integers(0, PARTNERS - 1),
    st.integers(0, len(PERIODS) - 1),  # the statement's period
    st.integers(0, len(CURRENCIES) - 1),
    amount,
)
eur_tolerance = st.sampled_from([None, D("0.05")])


def money(units: int) -> Decimal:
    return D(units).scaleb(-4)


def tolerance(currency: str, eur: Decimal | None) -> Decimal:
    """A configured row wins; else one minor unit of the currency (JPY has none)."""
    if currency == "EUR" and eur is not None:
        return eur
    return D(1) if currency == "JPY" else D("0.01")


def lines_of(spec: tuple) -> list[tuple[int, int, int, Decimal, bool]]:
    """The statement lines an accrual's fate gives: (partner, statement period, currency,
    amount, linked to the accrual)."""
    partner, _, currency, units, fate, paid_in, delta = spec
    value = money(units)
    if fate == "unsettled":
        return []
    if fate == "amount":
        return [(partner, paid_in, currency, value + money(delta), True)]
    if fate == "currency":
        return [(partner, paid_in, (currency + 1) % len(CURRENCIES), value, True)]
    if fate == "unlinked":
        return [(partner, paid_in, currency, value, False)]
    if fate == "duplicate":
        paid = (partner, paid_in, currency, value)
        return [(*paid, True), (*paid, False)]
    return [(partner, paid_in, currency, value, True)]


def in_run(period: int) -> bool:
    return MAY_START <= PERIODS[period][1] <= MAY_END


def reference(accruals: list, orphans: list, eur: Decimal | None) -> set[tuple]:
    """(kind, partner, period start, currency) of every break of the May run of US01.

    Per partner of the entity, settlement period and currency: the accruals of the periods
    ending in May against the statement lines paying them, a line counted in its accrual's
    period (one without an accrual in its statement's), in the line's currency.
    """
    accrued = defaultdict(lambda: [0, D(0)])
    settled = defaultdict(lambda: [0, D(0)])
    for spec in accruals:
        partner, period, currency, units = spec[:4]
        if partner in OURS and in_run(period):
            totals = accrued[(partner, PERIODS[period][0], CURRENCIES[currency])]
            totals[0] += 1
            totals[1] += money(units)
        for line_partner, paid_in, line_currency, value, linked in lines_of(spec):
            counted_in = period if linked else paid_in
            if line_partner in OURS and in_run(counted_in):
                totals = settled[(line_partner, PERIODS[counted_in][0], CURRENCIES[line_currency])]
                totals[0] += 1
                totals[1] += value
    for partner, paid_in, currency, units in orphans:
        if partner in OURS and in_run(paid_in):
            totals = settled[(partner, PERIODS[paid_in][0], CURRENCIES[currency])]
            totals[0] += 1
            totals[1] += money(units)
    found = set()
    for subject in set(accrued) | set(settled):
        (e_count, e_sum), (a_count, a_sum) = accrued[subject], settled[subject]
        if e_count == 0:
            found.add((BreakKind.SETTLED_NOT_ACCRUED, *subject))
        elif a_count == 0:
            found.add((BreakKind.ACCRUAL_NOT_SETTLED, *subject))
        elif abs(a_sum - e_sum) > tolerance(subject[2], eur):
            found.add((BreakKind.AMOUNT_MISMATCH, *subject))
    return found


def _partners() -> list[Partner]:
    ours, theirs = LegalEntityFactory(code="US01"), LegalEntityFactory(code="GB01")
    partners = []
    for index in range(PARTNERS):
        partner = Partner.objects.create(
            partner_id=f"ptn_{next(_ids)}", name=f"Partner {index}", kind="reseller",
            country="US", currency="USD", paying_entity=ours if index in OURS else theirs,
        )  # fmt: skip
        agreement = Agreement.objects.create(
            partner=partner, reference=f"AGR-{next(_ids)}", effective_from=dt.date(2026, 1, 1),
            currency="USD", settlement_period="month", basis="invoiced",
        )  # fmt: skip
        CommissionRule.objects.create(
            agreement=agreement, code="all", kind="percent_of_net", rate_percent=D(20)
        )
        partners.append(partner)
    return partners


def engine(accruals: list, orphans: list, eur: Decimal | None) -> set[tuple]:
    partners = _partners()
    rules = {p.pk: CommissionRule.objects.get(agreement__partner=p) for p in partners}
    if eur is not None:
        CurrencyTolerance.objects.create(currency="EUR", tolerance_amount=eur)
    statements: dict[tuple[int, int, int], Settlement] = {}

    def statement(partner: int, period: int, currency: int) -> Settlement:
        key = (partner, period, currency)
        if key not in statements:
            start, end = PERIODS[period]
            statements[key] = Settlement.objects.create(
                partner=partners[partner], period_start=start, period_end=end,
                currency=CURRENCIES[currency],
            )  # fmt: skip
        return statements[key]

    def line(partner, period, currency, value, accrual=None) -> None:
        SettlementLine.objects.create(
            settlement=statement(partner, period, currency), kind="accrual", accrual=accrual,
            source_ref="x", explanation="x", amount=value, currency=CURRENCIES[currency],
        )  # fmt: skip

    for spec in accruals:
        partner, period, currency, units = spec[:4]
        rule = rules[partners[partner].pk]
        accrual = Accrual.objects.create(
            partner=partners[partner], agreement=rule.agreement, rule=rule,
            source_kind="period", source_key=f"k{next(_ids)}", source_ref="x",
            accrued_on=PERIODS[period][0], period_start=PERIODS[period][0],
            period_end=PERIODS[period][1], rate=D(20), basis_amount=D(0),
            amount=money(units), currency=CURRENCIES[currency], explanation="x",
        )  # fmt: skip
        for line_partner, paid_in, line_currency, value, linked in lines_of(spec):
            line(line_partner, paid_in, line_currency, value, accrual if linked else None)
    for partner, paid_in, currency, units in orphans:
        line(partner, paid_in, currency, money(units))

    entity = partners[0].paying_entity
    run = ReconciliationRun.objects.create(
        entity=entity, connection=ConnectionFactory(entity=entity), period_start=MAY_START,
        period_end=MAY_END, scope=RunScope.PARTNERS, state="running",
    )  # fmt: skip
    partner_totals_store(run)
    rows = TotalsRow.objects.in_bulk()
    index = {p.partner_id: i for i, p in enumerate(partners)}
    found = set()
    for kind, row_id in totals_breaks_found(run):
        row = rows[row_id]
        found.add((kind, index[row.subject], row.subject_start, row.currency))
    return found


MAY, MARCH = dt.date(2026, 5, 1), dt.date(2026, 3, 1)
# One of each defect, read by hand: (accruals, orphan lines, EUR tolerance row).
KNOWN = (
    [
        (0, 1, 0, 1_000_000, "settled", 1, 1),  # 100 USD paid: agrees
        (0, 1, 0, 500_000, "amount", 1, 101),  # 50 USD paid 50.0101: the subject is off
        (1, 3, 1, 200_000, "unsettled", 1, 1),  # the March-May quarter's 20 EUR: not paid
        (1, 0, 0, 300_000, "settled", 1, 1),  # April's, on the May statement: April's
        (2, 1, 2, 1_000_000, "currency", 1, 1),  # 100 JPY paid as 100 USD
        (2, 3, 2, 500_000, "amount", 1, 10_000),  # 50 JPY paid 51: within one yen
        (0, 1, 1, 100_000, "unlinked", 4, 1),  # 10 EUR, its line on a statement of April
        (1, 1, 2, 50_000, "duplicate", 1, 1),  # 5 JPY paid twice
        (3, 1, 0, 100_000, "unsettled", 1, 1),  # another entity's partner
    ],
    [(1, 1, 0, 750_000)],  # 75 USD no accrual stands behind
    D("0.05"),
)
KNOWN_BREAKS = {
    (BreakKind.AMOUNT_MISMATCH, 0, MAY, "USD"),
    (BreakKind.ACCRUAL_NOT_SETTLED, 1, MARCH, "EUR"),
    (BreakKind.ACCRUAL_NOT_SETTLED, 2, MAY, "JPY"),
    (BreakKind.SETTLED_NOT_ACCRUED, 2, MAY, "USD"),
    (BreakKind.ACCRUAL_NOT_SETTLED, 0, MAY, "EUR"),
    (BreakKind.AMOUNT_MISMATCH, 1, MAY, "JPY"),
    (BreakKind.SETTLED_NOT_ACCRUED, 1, MAY, "USD"),
}


def test_reference_finds_each_injected_defect():
    assert reference(*KNOWN) == KNOWN_BREAKS


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(accrual_spec, max_size=10),
    st.lists(orphan_spec, max_size=3),
    eur_tolerance,
)
@example(*KNOWN)
def test_partner_totals_equal_python_reference(accruals, orphans, eur):
    with transaction.atomic():
        got = engine(accruals, orphans, eur)
        transaction.set_rollback(True)

    assert got == reference(accruals, orphans, eur)
