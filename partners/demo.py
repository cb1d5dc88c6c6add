"""The partner part of the demo (`manage.py seed_partners_demo`, run after `seed_demo`).

On top of the demo company's partners, customers and invoices it adds, through the partner
services only: a second channel manager (`channel2`, so four-eyes approval can be tried),
an agreement of every rule kind, customer attributions for partners that have none, the
accruals of every month with invoices, and settlements in every state the services reach:
draft, calculated (with a clawback line from a credit note issued after its source was
paid), submitted by `channel` (waiting for a second approver), rejected, approved, paid,
and on hold because of a quarantined event of one of the partner's customers. (`posted` is
set by the ERP posting of the vendor bill, which the demo does not run.)

Deterministic (the choices follow ids and the demo's date anchor) and idempotent: each step
looks at what exists and does only what is missing, so a second run creates nothing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Sum

from billing.demo.data import DEMO_PARTNER_ID, PASSWORD, SOURCE
from billing.models import Customer, FinanceEvent, Invoice
from billing.services import events_ingest_batch
from config.roles import CHANNEL_MANAGER
from exceptions.models import ACTIVE_STATES, Case
from partners.choices import AccrualSource, SettlementState
from partners.models import Accrual, Agreement, Attribution, Partner, Settlement
from partners.services import settlements as svc
from partners.services.agreements import agreement_create
from partners.services.attributions import attribution_create
from partners.services.engine import accruals_recompute
from partners.services.holds import blocking_cases
from partners.services.periods import period_bounds

SECOND_APPROVER = "channel2"
S = SettlementState
TIERS = [
    {"lower_amount": "0", "upper_amount": "5000", "rate_percent": "8"},
    {"lower_amount": "5000", "upper_amount": "20000", "rate_percent": "12"},
    {"lower_amount": "20000", "upper_amount": None, "rate_percent": "15"},
]
# partner id → (rules, extra terms): every rule kind, on the demo company's partners.
AGREEMENTS = {
    "PRT-DIST-US": (
        [{"code": "override-3", "kind": "percent_of_net", "rate_percent": "3"}],
        {"override_on_children": True},
    ),
    "PRT-RES-US-1": (
        [
            {"code": "platform-20", "kind": "percent_of_net", "rate_percent": "20"},
            {"code": "cap-floor", "kind": "cap", "cap_amount": "25000", "floor_amount": "50"},
        ],
        {},
    ),
    "PRT-RES-US-2": ([{"code": "tiers-whole", "kind": "tiered", "tiers": TIERS}], {}),
    "PRT-RES-US-3": (
        [{"code": "tiers-marginal", "kind": "tiered", "tiers": TIERS}],
        {"tier_mode": "marginal"},
    ),
    "PRT-REF-US-1": (
        [
            {
                "code": "per-seat-5",
                "kind": "per_unit",
                "unit_amount": "5.00",
                "product_families": ["platform", "analytics", "support"],
            },
        ],
        {},
    ),
    "PRT-REF-US-2": (
        [
            {"code": "net-10", "kind": "percent_of_net", "rate_percent": "10"},
            {"code": "rebate-2", "kind": "rebate", "rate_percent": "2", "threshold_amount": "3000"},
        ],
        {},
    ),
}
DEFAULT_RULES = [{"code": "net-12.5", "kind": "percent_of_net", "rate_percent": "12.5"}]
CREDIT_EVENT_ID = "ptr-demo-credit-after-payout"


def _month(day: dt.date) -> dt.date:
    return day.replace(day=1)


def demo_second_approver_ensure() -> object:
    """`channel2`: a second channel manager with the demo password."""
    user, _ = get_user_model().objects.get_or_create(username=SECOND_APPROVER)
    if not user.check_password(PASSWORD) or not user.groups.filter(name=CHANNEL_MANAGER).exists():
        user.first_name = "Channel2"
        user.set_password(PASSWORD)
        user.save()
        user.groups.add(Group.objects.get(name=CHANNEL_MANAGER))
    return user


def demo_agreements_ensure(*, start: dt.date, actor) -> int:
    """One monthly agreement per demo partner (every rule kind); how many were created."""
    created = 0
    for partner in Partner.objects.order_by("partner_id"):
        if Agreement.objects.filter(partner=partner).exists():
            continue
        rules, terms = AGREEMENTS.get(partner.partner_id, (DEFAULT_RULES, {}))
        agreement_create(
            partner_id=partner.partner_id,
            reference=f"AGR-{partner.partner_id}",
            effective_from=start,
            currency=partner.currency,
            settlement_period="month",
            basis="invoiced",
            rules=rules,
            actor=actor,
            **terms,
        )
        created += 1
    return created


def demo_attributions_ensure(*, start: dt.date, actor) -> int:
    """A customer attribution for each partner that has none (the first unattributed
    customer of its currency, by customer id); how many were created."""
    created = 0
    taken = set(Attribution.objects.exclude(customer=None).values_list("customer_id", flat=True))
    taken |= set(
        Attribution.objects.exclude(subscription=None).values_list(
            "subscription__customer_id", flat=True
        )
    )
    for partner in Partner.objects.order_by("partner_id"):
        if Attribution.objects.filter(partner=partner).exists():
            continue
        free = (
            Customer.objects.filter(currency=partner.currency, invoices__isnull=False)
            .exclude(pk__in=taken)
            .order_by("customer_id")
            .first()
        )
        if free is None:
            continue
        attribution_create(
            partner_id=partner.partner_id,
            customer_id=free.customer_id,
            role=partner.kind,
            valid_from=start,
            actor=actor,
        )
        taken.add(free.pk)
        created += 1
    return created


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    months, day = [], _month(first)
    while day <= last:
        months.append(day)
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return months


def demo_accruals_compute(*, actor) -> int:
    """Every month with invoices, in date order; how many accruals were written."""
    dates = Invoice.objects.order_by("issue_date").values_list("issue_date", flat=True)
    if not dates:
        return 0
    written = 0
    for month in _months(dates.first(), dates.last()):
        start, end = period_bounds(month, "month")
        count = accruals_recompute(period_start=start, period_end=end, actor=actor)
        written += count.created + count.updated
    return written


def _earning(partner_ids: set[int]) -> list[tuple[Partner, dt.date]]:
    """(partner, month) with line accruals, in (partner id, month) order."""
    rows = (
        Accrual.objects.filter(partner_id__in=partner_ids, source_kind=AccrualSource.INVOICE_LINE)
        .values_list("partner__partner_id", "partner_id", "period_start")
        .distinct()
        .order_by("partner__partner_id", "period_start")
    )
    partners = Partner.objects.in_bulk({pk for _, pk, _ in rows})
    return [(partners[pk], month) for _, pk, month in rows]


def _settlement(partner: Partner, month: dt.date, actor) -> Settlement:
    return svc.settlement_open(partner=partner, on=month, currency=partner.currency, actor=actor)


def _advance(settlement: Settlement, target: str, *, channel, channel2) -> Settlement:
    """Take a settlement along draft → calculated → submitted → approved → paid (or
    rejected) until it is in `target`; a settlement already there (or past it) is left."""
    path = [S.DRAFT, S.CALCULATED, S.SUBMITTED, S.APPROVED, S.PAID]
    if target == S.REJECTED:
        path = [S.DRAFT, S.CALCULATED, S.SUBMITTED, S.REJECTED]
    while settlement.state in path and path.index(settlement.state) < path.index(target):
        if settlement.state == S.DRAFT:
            settlement = svc.settlement_calculate(settlement=settlement, actor=channel)
        elif settlement.state == S.CALCULATED:
            settlement = svc.settlement_submit(settlement=settlement, actor=channel)
        elif settlement.state == S.SUBMITTED and target == S.REJECTED:
            settlement = svc.settlement_reject(
                settlement=settlement, actor=channel2, reason="demo: rates to be checked"
            )
        elif settlement.state == S.SUBMITTED:
            settlement = svc.settlement_approve(settlement=settlement, actor=channel2)
        else:
            reference = f"PAYOUT-{settlement.partner.partner_id}-{settlement.period_start:%Y%m}"
            settlement = svc.settlement_mark_paid(
                settlement=settlement, actor=channel, reference=reference
            )
        settlement.refresh_from_db()
    return settlement


def _held_partners() -> set[int]:
    """Partners with a settlement that an open case on a quarantined event would hold."""
    customers = set(
        Case.objects.filter(state__in=ACTIVE_STATES)
        .exclude(customer="")
        .values_list("customer", flat=True)
    )
    live = Attribution.objects.filter(customer__customer_id__in=customers)
    held = set(live.values_list("partner_id", flat=True))
    held |= set(
        Attribution.objects.filter(subscription__customer__customer_id__in=customers).values_list(
            "partner_id", flat=True
        )
    )
    held |= set(
        Partner.objects.filter(children__in=held).values_list("id", flat=True)
    )  # a distributor earns on its resellers' customers
    return held


def _would_hold(partner: Partner, month: dt.date) -> bool:
    """Whether a settlement of that partner and month would be held (nothing is written)."""
    start, end = period_bounds(month, "month")
    probe = Settlement(partner=partner, period_start=start, period_end=end)
    return blocking_cases(probe).exists()


def _open_invoice(partner: Partner, month: dt.date) -> bool:
    """Whether an invoice the partner earned on that month can still be credited."""
    pks = Accrual.objects.filter(
        partner=partner, period_start=month, source_kind=AccrualSource.INVOICE_LINE
    ).values_list("invoice_id", flat=True)
    return any(invoice.open_amount > 0 for invoice in Invoice.objects.filter(pk__in=pks))


def _credit_after_payout(paid: Settlement, *, actor, today: dt.date) -> int:
    """A credit note, dated today, on an invoice the paid statement earned on (sent through
    billing's ingestion like the demo's other events); 1 when sent now, else 0."""
    if FinanceEvent.objects.filter(source=SOURCE, event_id=CREDIT_EVENT_ID).exists():
        return 0
    invoice_pks = paid.lines.filter(accrual__invoice__isnull=False).values_list(
        "accrual__invoice_id", flat=True
    )
    invoices = Invoice.objects.filter(pk__in=invoice_pks).order_by("invoice_id")
    invoice = next((i for i in invoices if i.open_amount > 0), None)
    if invoice is None:
        return 0
    line = invoice.lines.order_by("id").first()
    amount = min(line.amount / 2, invoice.subtotal_amount).quantize(Decimal("0.01"))
    tax = (line.tax_amount * amount / line.amount).quantize(Decimal("0.01"))
    if amount + tax > invoice.open_amount:
        amount, tax = invoice.open_amount, Decimal("0.00")
    body = {
        "specversion": "1.0",
        "id": CREDIT_EVENT_ID,
        "source": SOURCE,
        "type": "credit_note.issued",
        "time": f"{today.isoformat()}T12:00:00Z",
        "entity": invoice.entity.code,
        "data": {
            "credit_note_id": f"CN-{invoice.invoice_id}-PTR",
            "invoice_id": invoice.invoice_id,
            "issue_date": today.isoformat(),
            "currency": invoice.currency,
            "lines": [
                {
                    "line_id": line.line_id,
                    "description": f"Partial credit: {line.description}"[:200],
                    "product_family": line.product_family,
                    "quantity": "1",
                    "unit_price": f"{amount}",
                    "amount": f"{amount}",
                    "tax_code": line.tax_code,
                    "tax_amount": f"{tax}",
                }
            ],
            "total": f"{amount + tax}",
            "reason": "service credit after the partner was paid",
        },
    }
    events_ingest_batch(bodies=[body], actor=actor)
    return 1


def demo_settlements_ensure(*, channel, channel2, today: dt.date) -> dict[str, str]:
    """Settlements in every state the services reach; {state: "partner month"} made."""
    held = _held_partners()
    earning = _earning(set(Partner.objects.values_list("id", flat=True)))
    shown: dict[str, str] = {}

    def label(settlement: Settlement) -> str:
        return f"{settlement.partner.partner_id} {settlement.period_start:%Y-%m}"

    hold = next((pair for pair in earning if pair[0].pk in held and _would_hold(*pair)), None)
    if hold is not None:
        settlement = _settlement(*hold, channel)
        if settlement.state == S.DRAFT:
            settlement = svc.settlement_calculate(settlement=settlement, actor=channel)
        shown[settlement.state] = label(settlement)
    free = [(p, m) for p, m in earning if p.pk not in held and m < _month(today)]
    # The paid statement: the earliest month of the partner with the most months earning.
    months: dict[int, list] = {}
    for partner, month in free:
        months.setdefault(partner.pk, []).append((partner, month))
    # The paid statement: the demo partner's (the `partner` user sees it) if it can take a
    # credit note afterwards (an invoice with an open amount), else the first that can.
    ranked = sorted(
        months.values(),
        key=lambda pairs: (pairs[0][0].partner_id != DEMO_PARTNER_ID, pairs[0][0].partner_id),
    )
    pick = next((pair for pairs in ranked for pair in pairs if _open_invoice(*pair)), None)
    before = Settlement.objects.filter(state=S.PAID).order_by("pk").first()
    if before is not None:  # a second run: the statement paid the first time
        pick = (before.partner, before.period_start)
    used = set(Settlement.objects.values_list("partner_id", "period_start"))
    if pick is not None:
        partner, month = pick
        paid = _advance(
            _settlement(partner, month, channel), S.PAID, channel=channel, channel2=channel2
        )
        shown[S.PAID] = label(paid)
        used.add((partner.pk, month))
        _credit_after_payout(paid, actor=channel, today=today)
        start, end = period_bounds(today, "month")
        accruals_recompute(period_start=start, period_end=end, actor=channel)
        after = _advance(
            _settlement(partner, today, channel), S.CALCULATED, channel=channel, channel2=channel2
        )
        shown[S.CALCULATED] = label(after) + " (clawback after payout)"
    rest = [(p, m) for p, m in free if (p.pk, m) not in used]
    # The rest, one partner-month each, the latest month of distinct partners first.
    rest.sort(key=lambda pair: (-pair[1].toordinal(), pair[0].partner_id))
    for target in (S.SUBMITTED, S.APPROVED, S.REJECTED, S.DRAFT):
        there = Settlement.objects.filter(state=target).order_by("pk").first()
        if there is not None:  # made by a first run (or by hand): nothing to add
            shown[target] = label(there)
            continue
        if not rest:
            break
        partner, month = rest.pop(0)
        settlement = _advance(
            _settlement(partner, month, channel), target, channel=channel, channel2=channel2
        )
        shown[target] = label(settlement)
    return shown


def demo_partners_seed(*, today: dt.date) -> list[str]:
    """Run every step; a line per step for the command to print."""
    channel = get_user_model().objects.get(username="channel")
    channel2 = demo_second_approver_ensure()
    first = Invoice.objects.order_by("issue_date").values_list("issue_date", flat=True).first()
    if first is None:
        return ["no invoices: run seed_demo first"]
    start = _month(first)
    out = [f"people: {SECOND_APPROVER} (second channel manager, for four-eyes approval)"]
    out.append(f"agreements: {demo_agreements_ensure(start=start, actor=channel)} new")
    out.append(f"attributions: {demo_attributions_ensure(start=start, actor=channel)} new")
    out.append(f"accruals: {demo_accruals_compute(actor=channel)} written")
    shown = demo_settlements_ensure(channel=channel, channel2=channel2, today=today)
    for state, what in shown.items():
        out.append(f"settlement {state}: {what}")
    total = Accrual.objects.aggregate(total=Sum("amount"))["total"]
    out.append(
        f"{Accrual.objects.count()} accruals, {Settlement.objects.count()} settlements "
        f"(accrued {total})"
    )
    return out
