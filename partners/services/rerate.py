"""Clawbacks of the period adjustments: tier true-ups, rebates, caps and floors.

A credit note or write-off (invoiced basis) or a refund (collected basis) takes back from
each line it reverses its share of what the line accrued (`partners.services.clawbacks`).
What the period earned *because of* that revenue is re-rated here, reversal by reversal in
date order, on what the source period kept:

- tiered (whole volume or marginal) and rebate rules: the rule's earnings in the source
  period on the volume kept (the band the kept volume reaches; no rebate once the kept
  volume is back at or under the threshold). What the partner still keeps from the rule in
  that period above that is taken back: from the true-up or rebate first, then from the
  rule's lines, latest first (they were rated on the volume before them).
- cap and floor: the adjustment is recomputed on the period total kept (the total it was
  computed on, less what the period's own accruals lost to reversals it did not see). A
  cap's negative adjustment is released by the difference (a positive clawback line); a
  floor's top-up is taken back once the period keeps nothing. A reversal never raises a
  top-up, and nothing moves past zero. (Likewise a negative true-up — the period's rate
  a rounding cent under its lines — is released once the lines it corrected are reversed.)

Each such clawback is keyed "<reversal>>rerate:<accrual pk>" or "<reversal>>cap:<accrual
pk>", dated on the reversal's day in the window it falls in, refers to the accrual it
reverses (`clawback_of`) and, with everything taken from that accrual before it, never
exceeds it. Reversals are replayed from their documents, so recomputing is idempotent.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Q

from billing.models import Invoice, InvoiceLine, Payment
from config.money import quantize
from partners.choices import CLAWBACK_SOURCES, AccrualSource, RuleKind, TierMode
from partners.models import Accrual, CommissionRule
from partners.services import bulk
from partners.services.clawbacks import (
    ONE,
    _credit_notes,
    _day_range,
    _line_usage,
    _ordered,
    _payment_usage,
    _refunds,
    _utc_day,
    _write_offs,
)
from partners.services.periods import period_bounds
from partners.services.rates import ZERO, fmt, marginal_amount, percent_of, tier_rate
from partners.services.writer import frozen_q

RERATE = ">rerate:"
CAP = ">cap:"
LINE_SOURCES = (AccrualSource.INVOICE_LINE, AccrualSource.PAYMENT)


def marked_q() -> Q:
    """The clawbacks this module writes (re-rates and cap releases)."""
    return Q(source_key__contains=RERATE) | Q(source_key__contains=CAP)


def _order(reversal: tuple) -> tuple:
    return (reversal[0], str(reversal[1]), reversal[2].pk)


def _stored_order(clawback: Accrual) -> tuple:
    """The order of the reversal a stored clawback came from ("credit_line:4>...")."""
    kind, rest = clawback.source_key.split(":", 1)
    return (clawback.accrued_on, kind, int(rest.split(">", 1)[0]))


def _in_window(clawback: Accrual, start: dt.date, end: dt.date) -> bool:
    return (clawback.period_start, clawback.period_end) == (start, end)


def _window_reversals(start: dt.date, end: dt.date) -> list[tuple]:
    lo, hi = _day_range(start, end)
    return _ordered(
        _credit_notes(issue_date__gte=start, issue_date__lte=end)
        + _write_offs(event__event_time__gte=lo, event__event_time__lt=hi)
        + _refunds(issued_at__gte=lo, issued_at__lt=hi)
    )


def _row(source: Accrual, reversal: tuple, *, amount, basis, marker, text, start, end) -> dict:
    day, kind, record, label = reversal
    return {
        "partner_id": source.partner_id,
        "agreement_id": source.agreement_id,
        "source_kind": kind,
        "source_ref": f"{label} ({source.source_ref})"[:300],
        "customer_id": source.customer_id,
        "invoice_id": source.invoice_id,
        "payment_id": source.payment_id,
        "accrued_on": day,
        "period_start": start,
        "period_end": end,
        "rate": source.rate,
        "basis_amount": basis,
        "amount": amount,
        "currency": source.currency,
        "explanation": text[:500],
        "clawback_of_id": source.pk,
    }, f"{kind}:{record.pk}{marker}{source.pk}"


# --- tiers and rebates ------------------------------------------------------------------------


def _earned(rule: CommissionRule, volume: Decimal, currency: str) -> Decimal:
    """What `rule` earns on a period volume (the period adjustment included)."""
    if volume <= 0:
        return ZERO
    if rule.kind == RuleKind.REBATE:
        if volume <= rule.threshold_amount:
            return ZERO
        return percent_of(rule.rate_percent, volume, currency)
    if rule.agreement.tier_mode == TierMode.MARGINAL:
        return quantize(marginal_amount(rule.tier_list, ZERO, volume), currency)
    return percent_of(tier_rate(rule.tier_list, volume), volume, currency)


def _usage(invoice_pks: set, payment_pks: set, until: dt.date) -> tuple[list, dict]:
    """(every reversal of these invoices and payments up to `until`, in date order,
    {(kind, pk): {document: (fraction of it reversed, reversed completely)}}), a document
    being ("line", invoice line pk) or ("payment", payment pk)."""
    reversals = _ordered(
        _credit_notes(invoice_id__in=invoice_pks)
        + _write_offs(invoice_id__in=invoice_pks)
        + _refunds(payment_id__in=payment_pks)
    )
    usage, on_invoice = {}, defaultdict(list)
    for reversal in reversals:
        if reversal[1] != AccrualSource.REFUND:
            on_invoice[reversal[2].invoice_id].append(reversal)
    lines = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=invoice_pks).order_by("id"):
        lines[line.invoice_id].append(line)
    for invoice in Invoice.objects.filter(pk__in=invoice_pks):
        for key, used in _line_usage(invoice, lines[invoice.pk], on_invoice[invoice.pk]).items():
            usage[key] = {("line", pk): value for pk, value in used.items()}
    refunds = [r for r in reversals if r[1] == AccrualSource.REFUND]
    for key, used in _payment_usage(refunds).items():
        usage[key] = {("payment", pk): value for pk, value in used.items()}
    return [r for r in reversals if r[0] <= until], usage


def _rules(pks) -> dict[int, CommissionRule]:
    rules = CommissionRule.objects.select_related("agreement").prefetch_related("tiers")
    found = rules.in_bulk(pks)
    for rule in found.values():
        rule.tier_list = list(rule.tiers.all())
    return found


def _origins(window: list[tuple], kind: str, start: dt.date) -> set[tuple]:
    """The settlement periods (up to the window) whose revenue the window's reversals touch."""
    invoice_pks = {r[2].invoice_id for r in window if r[1] != AccrualSource.REFUND}
    payment_pks = {r[2].payment_id for r in window if r[1] == AccrualSource.REFUND}
    days = set(Invoice.objects.filter(pk__in=invoice_pks).values_list("issue_date", flat=True))
    for received in Payment.objects.filter(pk__in=payment_pks).values_list(
        "received_at", flat=True
    ):
        days.add(_utc_day(received))
    return {bounds for bounds in (period_bounds(d, kind) for d in days) if bounds[0] <= start}


def _candidates(reads, *, kind, origin, partner_pks) -> list:
    extra = {"skip_percent_rows": True} if reads is bulk else {}
    lo, hi = origin
    return reads.candidates(kind=kind, start=lo, end=hi, partner_pks=partner_pks, **extra)


def rerate_desired(
    *, kind: str, start: dt.date, end: dt.date, partner_pks=None, reads=bulk
) -> dict[tuple[int, str], dict]:
    """{(rule_pk, source_key): values} of the tier and rebate re-rates dated in the window."""
    window = _window_reversals(start, end)
    if not window:
        return {}
    origins = _origins(window, kind, start)
    sources = Accrual.objects.filter(
        agreement__settlement_period=kind,
        rule__kind__in=[RuleKind.TIERED, RuleKind.REBATE],
        clawback_of__isnull=True,
        source_kind__in=[*LINE_SOURCES, AccrualSource.PERIOD],
        period_start__in=[lo for lo, _ in origins],
    )
    if partner_pks is not None:
        sources = sources.filter(partner_id__in=partner_pks)
    groups = defaultdict(list)  # (rule, origin period start): its accruals
    for accrual in sources.order_by("id"):
        groups[(accrual.rule_id, accrual.period_start)].append(accrual)
    if not groups:
        return {}
    rules = _rules({rule_pk for rule_pk, _ in groups})
    candidates = {}  # (rule, origin start): [(document, basis)]
    for origin in origins:
        partners = {
            a.partner_id for (_, lo), group in groups.items() if lo == origin[0] for a in group
        }
        if not partners:
            continue
        for c in _candidates(reads, kind=kind, origin=origin, partner_pks=sorted(partners)):
            rule = rules.get(c.rule_pk)
            if rule is None or not rule.applies_to(
                product_family=c.product_family, country=c.country
            ):
                continue
            doc = ("line", c.line_pk) if c.payment_pk is None else ("payment", c.payment_pk)
            basis = c.line_amount  # as engine._basis: the line, or its share of the cash
            if c.allocation_amount is not None:
                basis = ZERO
                if c.invoice_total:
                    share = c.allocation_amount * c.line_amount / c.invoice_total
                    basis = quantize(share, c.currency)
            candidates.setdefault((c.rule_pk, origin[0]), []).append((doc, basis, c))
    invoice_pks, payment_pks = set(), set()
    for items in candidates.values():
        for (doc_kind, pk), _, c in items:
            if doc_kind == "line":
                invoice_pks.add(c.invoice_pk)
            else:
                payment_pks.add(pk)
    reversals, usage = _usage(invoice_pks, payment_pks, end)
    taken = defaultdict(list)  # source pk: [(reversal order, amount)] stored, this window's
    every = [a for group in groups.values() for a in group]  # re-rates excluded (rewritten)
    for clawback in Accrual.objects.filter(clawback_of__in=every).exclude(amount=0):
        if not (RERATE in clawback.source_key and _in_window(clawback, start, end)):
            taken[clawback.clawback_of_id].append((_stored_order(clawback), clawback.amount))

    desired = {}
    for key, group in groups.items():
        items = candidates.get(key)
        if not items:
            continue
        rule = rules[key[0]]
        desired.update(
            _rerate_group(rule, group, items, reversals, usage, taken, start=start, end=end)
        )
    return desired


def _rerate_group(rule, group, items, reversals, usage, taken, *, start, end) -> dict:
    cur = rule.agreement.currency
    docs = {doc for doc, _, _ in items}
    volume0 = sum((basis for _, basis, _ in items), ZERO)
    earned0 = _earned(rule, volume0, cur)
    kept0 = sum((a.amount for a in group), ZERO)
    # The period's true-up or rebate first, then the lines, latest first.
    takers = [a for a in group if a.source_kind == AccrualSource.PERIOD] + sorted(
        (a for a in group if a.source_kind != AccrualSource.PERIOD),
        key=lambda a: (a.accrued_on, a.pk),
        reverse=True,
    )
    fraction = defaultdict(lambda: ZERO)
    new = defaultdict(lambda: ZERO)
    desired, volume_before = {}, volume0

    def kept(source: Accrual, order: tuple) -> Decimal:
        before = sum((x for o, x in taken[source.pk] if o <= order), ZERO)
        return source.amount + before + new[source.pk]

    def left(source: Accrual) -> Decimal:
        """What is left of it after everything dated up to the window's end (a later
        reversal of the same line in this window may have used it up already)."""
        before = sum((x for o, x in taken[source.pk] if o[0] <= end), ZERO)
        return source.amount + before + new[source.pk]

    for reversal in reversals:
        used = usage.get((reversal[1], reversal[2].pk), {})
        touched = [doc for doc in docs if doc in used]
        if not touched:
            continue
        for doc in touched:
            share, used_up = used[doc]
            fraction[doc] = ONE if used_up else min(ONE, fraction[doc] + share)
        volume = sum((basis * (ONE - fraction[doc]) for doc, basis, _ in items), ZERO)
        volume = quantize(volume, cur)
        lost, volume_before = volume_before - volume, volume
        if not start <= reversal[0] <= end:
            continue
        order = _order(reversal)
        earned = _earned(rule, volume, cur)
        target = kept0 + earned - earned0
        excess = quantize(sum((kept(a, order) for a in group), ZERO) - target, cur)
        moves = []  # (source, amount): positive accruals give back, a negative true-up
        for source in takers:  # (a rounding cent under the lines) is released
            if excess <= 0:
                break
            take = min(kept(source, order), left(source), excess)
            if take > 0:
                moves.append((source, -take))
                excess -= take
        for source in takers if excess < 0 else ():
            give = min(-kept(source, order), -left(source), -excess)
            if source.source_kind == AccrualSource.PERIOD and give > 0:
                moves.append((source, give))
                excess += give
        for source, amount in moves:
            new[source.pk] += amount
            what = (
                ("true-up" if rule.kind == RuleKind.TIERED else "rebate")
                if source.source_kind == AccrualSource.PERIOD
                else f"accrual on {source.source_ref}"
            )
            text = (
                f"re-rate: {reversal[3]} leaves rule {rule.code}'s {source.period_start:%Y-%m} "
                f"period volume at {fmt(volume, cur)}, which earns {fmt(earned, cur)}; "
                f"{fmt(amount, cur)} of the {fmt(source.amount, cur)} {what}"
            )
            values, source_key = _row(
                source,
                reversal,
                amount=amount,
                basis=-quantize(lost, cur),
                marker=RERATE,
                text=text,
                start=start,
                end=end,
            )
            desired[(source.rule_id, source_key)] = values
    return desired


# --- caps and floors --------------------------------------------------------------------------


def cap_adjustment(rule: CommissionRule, total: Decimal, currency: str) -> Decimal:
    """The adjustment bringing a period total within [floor, cap] (0 when it is)."""
    if total > rule.cap_amount:
        return quantize(rule.cap_amount - total, currency)
    if rule.floor_amount is not None and ZERO < total < rule.floor_amount:
        return quantize(rule.floor_amount - total, currency)
    return ZERO


def cap_releases_desired(
    *, kind: str, start: dt.date, end: dt.date, partner_pks=None
) -> dict[tuple[int, str], dict]:
    """{(rule_pk, source_key): values} of the cap and floor re-rates dated in the window."""
    window = _window_reversals(start, end)
    if not window:
        return {}
    dated_here = Accrual.objects.filter(
        source_kind__in=CLAWBACK_SOURCES,
        period_start=start,
        period_end=end,
        agreement__settlement_period=kind,
    ).exclude(source_key__contains=CAP)
    if partner_pks is not None:
        dated_here = dated_here.filter(partner_id__in=partner_pks)
    touched = set(dated_here.values_list("partner_id", "currency", "clawback_of__period_start"))
    if not touched:
        return {}
    caps = (
        Accrual.objects.filter(
            source_kind=AccrualSource.PERIOD,
            rule__kind=RuleKind.CAP,
            agreement__settlement_period=kind,
            partner_id__in={p for p, _, _ in touched},
            period_start__in={lo for _, _, lo in touched},
        )
        .annotate(is_frozen=frozen_q())
        .select_related("rule", "settlement_line")
    )
    by_reversal = {(r[1], r[2].pk): r for r in window}
    desired = {}
    for cap in caps:
        if (cap.partner_id, cap.currency, cap.period_start) in touched:
            desired.update(_release(cap, by_reversal, start=start, end=end))
    return desired


def _release(cap: Accrual, by_reversal: dict, *, start, end) -> dict:
    cur, adjustment, total = cap.currency, cap.amount, cap.basis_amount
    if adjustment == 0 or total <= 0:
        return {}
    line = getattr(cap, "settlement_line", None)
    on_statement = line.settlement_id if cap.is_frozen and line is not None else None
    clawbacks = (
        Accrual.objects.filter(
            partner_id=cap.partner_id,
            currency=cur,
            clawback_of__period_start=cap.period_start,
            source_kind__in=CLAWBACK_SOURCES,
        )
        .exclude(clawback_of__rule__kind=RuleKind.CAP)
        .exclude(source_key__contains=CAP)
        .select_related("settlement_line")
    )
    lost = defaultdict(lambda: ZERO)  # reversal order: what the period's accruals lost
    for clawback in clawbacks:
        # The cap's total saw the period's own reversals dated in it when it was computed.
        seen = clawback.period_start == cap.period_start and RERATE not in clawback.source_key
        if seen and on_statement is not None:
            line = getattr(clawback, "settlement_line", None)
            seen = line is not None and line.settlement_id == on_statement
        if not seen:
            lost[_stored_order(clawback)] -= clawback.amount
    released = defaultdict(lambda: ZERO)
    for clawback in Accrual.objects.filter(clawback_of=cap, source_key__contains=CAP):
        if not _in_window(clawback, start, end):
            released[_stored_order(clawback)] += clawback.amount
    desired, gone, done = {}, ZERO, ZERO
    low, high = min(ZERO, adjustment), max(ZERO, adjustment)
    for order in sorted(set(lost) | set(released)):
        gone += lost.get(order, ZERO)
        if order in released:
            done += released[order]
            continue
        reversal = by_reversal.get((order[1], order[2]))
        if reversal is None or not start <= order[0] <= end:
            continue
        kept = total - gone
        due = min(high, max(low, cap_adjustment(cap.rule, kept, cur)))
        amount = quantize(due - adjustment - done, cur)
        if amount == 0 or (amount > 0) == (adjustment > 0):
            continue  # a reversal never raises a top-up
        done += amount
        which = "cap" if adjustment < 0 else "floor"
        text = (
            f"{which} re-rate: {reversal[3]} leaves the {cap.period_start:%Y-%m} period total "
            f"at {fmt(kept, cur)}; its {which} adjustment of {fmt(adjustment, cur)} becomes "
            f"{fmt(due, cur)}: {fmt(amount, cur)}, rule {cap.rule.code}"
        )
        values, source_key = _row(
            cap,
            reversal,
            amount=amount,
            basis=-quantize(lost.get(order, ZERO), cur),
            marker=CAP,
            text=text,
            start=start,
            end=end,
        )
        desired[(cap.rule_id, source_key)] = values
    return desired
