"""The accrual engine: every accrual of one settlement window, recomputed idempotently.

`accruals_recompute(period_start, period_end)` runs four passes for the agreements whose
settlement period is that window (a calendar month or quarter):

1. lines — each candidate (source line x rule, from `partners.services.bulk`) earns under
   its rule: percent of net; per unit; tiered (whole-volume: the rate of the band the
   period's cumulative volume has reached after the line; marginal: each band's part at its
   rate); collected basis earns on the line's share of the cash allocated to the invoice.
2. clawbacks — credit notes, write-offs (invoiced basis) and refunds (collected basis) dated
   in the window reverse, in date order, a fraction of what their source accrued, never
   more than is left of it (`partners.services.clawbacks`).
3. period — the whole-volume true-up (the period's final band rate on its whole volume,
   less what the lines accrued), the rebate over its threshold, and the cap (or floor) on
   the period total (the period's own lines less what reversals dated in it took back).
4. re-rates — reversals dated in the window re-rate what the true-ups, rebates, tiers and
   caps or floors of their source periods earned on the revenue reversed
   (`partners.services.rerate`), never more than is left of each source.

Each pass writes through `accruals_write`: new rows inserted, changed rows updated, rows
that no longer arise deleted, frozen rows (on an approved or later statement) untouched.
Reversals look up their sources as stored: compute periods in date order (the source's
window before the reversal's).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q, Sum

from config.money import quantize
from partners.choices import CLAWBACK_SOURCES, AccrualSource, RuleKind, TierMode
from partners.models import Accrual, CommissionRule
from partners.services import bulk
from partners.services.candidates import Candidate
from partners.services.clawbacks import clawbacks_desired
from partners.services.periods import period_kind
from partners.services.rates import (
    HUNDRED,
    ZERO,
    fmt,
    marginal_amount,
    percent_of,
    percent_text,
    tier_rate,
)
from partners.services.rerate import (
    CAP,
    RERATE,
    cap_releases_desired,
    marked_q,
    rerate_desired,
)
from partners.services.writer import WriteCount, accruals_write, accruals_write_select

_RATE = Decimal("0.00000001")
LINE_SOURCES = (AccrualSource.INVOICE_LINE, AccrualSource.PAYMENT)


def _source_ref(c: Candidate) -> str:
    line = f"{c.invoice_id} line {c.line_number}"
    return line if c.payment_pk is None else f"{c.payment_id} for {line}"


def _basis(c: Candidate) -> Decimal:
    """The net revenue a candidate earns on: the line, or its share of the allocation."""
    if c.allocation_amount is None:
        return c.line_amount
    if not c.invoice_total:
        return ZERO
    return quantize(c.allocation_amount * c.line_amount / c.invoice_total, c.currency)


def _units(c: Candidate) -> Decimal:
    if c.allocation_amount is None or not c.invoice_total:
        return c.quantity
    return (c.quantity * c.allocation_amount / c.invoice_total).quantize(_RATE)


def _values(c: Candidate, *, start, end, rate, basis, amount, text) -> dict:
    return {
        "partner_id": c.partner_pk,
        "agreement_id": c.agreement_pk,
        "source_kind": AccrualSource.INVOICE_LINE
        if c.payment_pk is None
        else AccrualSource.PAYMENT,
        "source_ref": _source_ref(c)[:300],
        "customer_id": c.customer_pk,
        "invoice_id": c.invoice_pk,
        "payment_id": c.payment_pk,
        "accrued_on": c.on,
        "period_start": start,
        "period_end": end,
        "rate": rate,
        "basis_amount": basis,
        "amount": amount,
        "currency": c.currency,
        "explanation": text[:500],
        "clawback_of_id": None,
    }


def _line_accrual(rule: CommissionRule, c: Candidate, volume: Decimal) -> tuple:
    """(rate, basis, amount, explanation) of one candidate, `volume` earned before it."""
    basis, cur, ref = _basis(c), c.currency, _source_ref(c)
    net = f"{fmt(basis, cur)} net on {ref}, rule {rule.code}"
    if rule.kind == RuleKind.PERCENT_OF_NET:
        rate = rule.rate_percent
        return rate, basis, percent_of(rate, basis, cur), f"{percent_text(rate)} of {net}"
    if rule.kind == RuleKind.PER_UNIT:
        units = _units(c)
        amount = quantize(rule.unit_amount * units, cur)
        text = (
            f"{fmt(rule.unit_amount, cur)} per unit × {units.normalize():f} units of "
            f"{c.product_family} on {ref}, rule {rule.code}"
        )
        return rule.unit_amount, basis, amount, text
    tiers = rule.tier_list
    reached = volume + basis
    if rule.agreement.tier_mode == TierMode.MARGINAL:
        raw = marginal_amount(tiers, volume, basis)
        rate = (raw * HUNDRED / basis).quantize(_RATE) if basis else ZERO
        text = (
            f"marginal tiers ({percent_text(rate)} effective) on {net}; period volume "
            f"{fmt(volume, cur)} → {fmt(reached, cur)}"
        )
        return rate, basis, quantize(raw, cur), text
    rate = tier_rate(tiers, reached)
    text = f"{percent_text(rate)} (tier at period volume {fmt(reached, cur)}) of {net}"
    return rate, basis, percent_of(rate, basis, cur), text


def _rules(candidates: list[Candidate], more=()) -> dict[int, CommissionRule]:
    pks = {c.rule_pk for c in candidates} | set(more)
    rules = CommissionRule.objects.select_related("agreement").prefetch_related("tiers")
    found = rules.in_bulk(pks)
    for rule in found.values():
        rule.tier_list = list(rule.tiers.all())
    return found


def lines_desired(candidates: list[Candidate], rules, *, start, end) -> tuple[dict, dict]:
    """({key: values} of the line accruals, {rule_pk: period volume}) of a window."""
    desired, volume = {}, defaultdict(lambda: ZERO)
    for c in candidates:  # in source order: tiers accumulate in it
        rule = rules[c.rule_pk]
        if not rule.applies_to(product_family=c.product_family, country=c.country):
            continue
        if rule.kind == RuleKind.REBATE:
            volume[rule.pk] += _basis(c)
            continue
        rate, basis, amount, text = _line_accrual(rule, c, volume[rule.pk])
        volume[rule.pk] += basis
        desired[(rule.pk, c.source_key)] = _values(
            c, start=start, end=end, rate=rate, basis=basis, amount=amount, text=text
        )
    return desired, volume


def _period_values(agreement, *, start, end, rate, basis, amount, text) -> dict:
    return {
        "partner_id": agreement.partner_id,
        "agreement_id": agreement.pk,
        "source_kind": AccrualSource.PERIOD,
        "source_ref": f"period {start} to {end}",
        "customer_id": None,
        "invoice_id": None,
        "payment_id": None,
        "accrued_on": end,
        "period_start": start,
        "period_end": end,
        "rate": rate,
        "basis_amount": basis,
        "amount": amount,
        "currency": agreement.currency,
        "explanation": text[:500],
        "clawback_of_id": None,
    }


def period_desired(lines: dict, volume: dict, rules, *, start, end) -> dict:
    """True-ups, rebates, and the cap or floor of each agreement seen in the window."""
    desired = {}
    key = f"period:{start.isoformat()}"
    agreements = {rule.agreement_id: rule.agreement for rule in rules.values()}
    for rule in rules.values():
        agreement, cur = rule.agreement, rule.agreement.currency
        v = volume[rule.pk]
        if rule.kind == RuleKind.TIERED and agreement.tier_mode == TierMode.WHOLE_VOLUME:
            accrued = sum((x["amount"] for (r, _), x in lines.items() if r == rule.pk), ZERO)
            rate = tier_rate(rule.tier_list, v)
            due = percent_of(rate, v, cur)
            if due != accrued:
                text = (
                    f"true-up: period volume {fmt(v, cur)} earns {percent_text(rate)} on the "
                    f"whole volume = {fmt(due, cur)}, less {fmt(accrued, cur)} accrued line by "
                    f"line, rule {rule.code}"
                )
                desired[(rule.pk, key)] = _period_values(
                    agreement,
                    start=start,
                    end=end,
                    rate=rate,
                    basis=v,
                    amount=due - accrued,
                    text=text,
                )
        elif rule.kind == RuleKind.REBATE and v > rule.threshold_amount:
            amount = percent_of(rule.rate_percent, v, cur)
            text = (
                f"rebate: period volume {fmt(v, cur)} passed {fmt(rule.threshold_amount, cur)}; "
                f"{percent_text(rule.rate_percent)} of {fmt(v, cur)}, rule {rule.code}"
            )
            desired[(rule.pk, key)] = _period_values(
                agreement,
                start=start,
                end=end,
                rate=rule.rate_percent,
                basis=v,
                amount=amount,
                text=text,
            )
    caps = {}  # each agreement's first cap rule, read in one query
    for cap in CommissionRule.objects.filter(agreement__in=agreements, kind=RuleKind.CAP):
        caps.setdefault(cap.agreement_id, cap)
    for agreement in agreements.values():
        cap = caps.get(agreement.pk)
        if cap is not None:
            desired.update(_cap(agreement, cap, desired, key, start=start, end=end))
    return desired


def _cap(agreement, rule, period: dict, key: str, *, start, end) -> dict:
    """The adjustment bringing the partner's period total within [floor, cap]."""
    cur = agreement.currency
    stored = (
        Accrual.objects.filter(
            partner_id=agreement.partner_id,
            currency=cur,
            period_start=start,
            period_end=end,
        )
        # The period's own revenue: its lines and what reversals dated in it took back from
        # them (later reversals, and re-rates, re-rate the cap: partners.services.rerate).
        .filter(
            Q(source_kind__in=LINE_SOURCES)
            | Q(source_kind__in=CLAWBACK_SOURCES, clawback_of__period_start=start)
        )
        .exclude(marked_q())
        .aggregate(total=Sum("amount"))["total"]
        or ZERO
    )
    partner_period = sum(
        (
            x["amount"]
            for x in period.values()
            if x["partner_id"] == agreement.partner_id and x["currency"] == cur
        ),
        ZERO,
    )
    total = quantize(Decimal(stored) + partner_period, cur)
    if total > rule.cap_amount:
        amount = rule.cap_amount - total
        text = f"cap: period total {fmt(total, cur)} is above the cap {fmt(rule.cap_amount, cur)}"
    elif rule.floor_amount is not None and ZERO < total < rule.floor_amount:
        amount = rule.floor_amount - total
        floor = fmt(rule.floor_amount, cur)
        text = f"floor: period total {fmt(total, cur)} is below the floor {floor}"
    else:
        return {}
    values = _period_values(
        agreement,
        start=start,
        end=end,
        rate=ZERO,
        basis=total,
        amount=amount,
        text=f"{text}; adjusted by {fmt(amount, cur)}, rule {rule.code}",
    )
    return {(rule.pk, key): values}


def _scope(kinds, *, start, end, partner_pks):
    scope = Accrual.objects.filter(source_kind__in=kinds, period_start=start, period_end=end)
    return scope if partner_pks is None else scope.filter(partner_id__in=partner_pks)


def accruals_recompute(
    *, period_start: dt.date, period_end: dt.date, actor, partner=None, reads=bulk
) -> WriteCount:
    """Recompute every accrual of the window [period_start, period_end] (of one partner, or
    all) in one transaction. Idempotent: run twice, the second run writes nothing.

    `reads` is where the candidates come from (bulk, or the reference module in tests).
    Raises ValueError when the window is not a calendar month or quarter.
    """
    kind = period_kind(period_start, period_end)
    window = {"start": period_start, "end": period_end}
    partner_pks = None if partner is None else [partner.pk]
    reason = f"accruals recomputed for {period_start} to {period_end}"
    # On PostgreSQL the invoiced percent-of-net line accruals (most of them) are written by
    # statements (bulk.percent_rows + accruals_write_select); the other rules go through
    # Python. The reference reads, and SQLite, take the Python path for every rule.
    in_sql = reads is bulk and connection.vendor == "postgresql"
    with transaction.atomic():
        line_scope = _scope(LINE_SOURCES, partner_pks=partner_pks, **window)
        sql_rules, count = set(), WriteCount()
        if in_sql:
            handled = Q(
                source_kind=AccrualSource.INVOICE_LINE,
                rule__kind=bulk.SQL_RULE_KIND,
                agreement__basis=bulk.SQL_BASIS,
            )
            select, params = bulk.percent_rows(kind=kind, partner_pks=partner_pks, **window)
            count, sql_rules = accruals_write_select(
                select, params, scope=line_scope.filter(handled), actor=actor, reason=reason
            )
            line_scope = line_scope.exclude(handled)
        skip = {"skip_percent_rows": True} if in_sql else {}
        candidates = reads.candidates(kind=kind, partner_pks=partner_pks, **window, **skip)
        rules = _rules(candidates, sql_rules)
        lines, volume = lines_desired(candidates, rules, **window)
        count.add(accruals_write(lines, scope=line_scope, actor=actor, reason=reason))
        clawbacks = clawbacks_desired(kind=kind, partner_pks=partner_pks, **window)
        reversals = _scope(CLAWBACK_SOURCES, partner_pks=partner_pks, **window)
        count.add(
            accruals_write(
                clawbacks,
                scope=reversals.exclude(marked_q()),
                actor=actor,
                reason=reason,
            )
        )
        period = period_desired(lines, volume, rules, **window)
        count.add(
            accruals_write(
                period,
                scope=_scope([AccrualSource.PERIOD], partner_pks=partner_pks, **window),
                actor=actor,
                reason=reason,
            )
        )
        # 4. What true-ups, rebates, caps and floors earned on revenue reversed since.
        rerates = rerate_desired(kind=kind, partner_pks=partner_pks, reads=reads, **window)
        scope = reversals.filter(source_key__contains=RERATE)
        count.add(accruals_write(rerates, scope=scope, actor=actor, reason=reason))
        releases = cap_releases_desired(kind=kind, partner_pks=partner_pks, **window)
        scope = reversals.filter(source_key__contains=CAP)
        count.add(accruals_write(releases, scope=scope, actor=actor, reason=reason))
    return count
