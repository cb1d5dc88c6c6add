"""Clawbacks: what credit notes, write-offs and refunds take back from what their source
accrued, with a negative sign and never more than is left of the source accrual.

- invoiced basis: each invoice's reversals (credit notes and write-offs, all of them, in date
  order) use up its lines' net amounts. A credit line with an invoice line's line_id credits
  that line first; what exceeds it, credit lines matching no line and write-offs (their net
  share: amount * subtotal / total) are spread over what is left of the lines, in
  proportion. A reversal takes back, from each accrual of a line, the share of the line it
  used up; the one that uses a line up completely takes back all that is left of it.
- collected basis: a refund takes back its share of the payment from every accrual the
  payment earned; the refund that completes the payment's refund takes back all that is left.
- Credit notes and write-offs take nothing back on collected basis (money never collected
  never earned), refunds nothing on invoiced basis (the credit note does): nothing is
  taken back twice.

Each clawback is keyed by (reversal, source accrual).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from billing.models import CreditNote, Invoice, InvoiceLine, Refund, WriteOff
from config.money import quantize
from partners.choices import CLAWBACK_SOURCES, AccrualSource
from partners.models import Accrual
from partners.services.rates import ZERO, fmt, percent_text

ONE = Decimal(1)
_PERCENT = Decimal("0.01")


def _day_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    return lo, dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)


def _utc_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(dt.UTC).date()


def _credit_notes(**where) -> list[tuple]:
    notes = CreditNote.objects.filter(**where).select_related("invoice").prefetch_related("lines")
    return [(n.issue_date, AccrualSource.CREDIT_LINE, n, n.credit_note_id) for n in notes]


def _write_offs(**where) -> list[tuple]:
    offs = WriteOff.objects.filter(**where).select_related("invoice", "event")
    return [
        (_utc_day(w.event.event_time), AccrualSource.WRITE_OFF, w, f"write-off of {w.invoice}")
        for w in offs
    ]


def _refunds(**where) -> list[tuple]:
    refunds = Refund.objects.filter(**where).select_related("payment")
    return [(_utc_day(r.issued_at), AccrualSource.REFUND, r, r.refund_id) for r in refunds]


def _ordered(reversals: list[tuple]) -> list[tuple]:
    return sorted(reversals, key=lambda r: (r[0], r[1], r[2].pk))


def _spread(pool: Decimal, left: dict, used: dict) -> None:
    """Use `pool` up over what is `left` of the lines, in proportion to it."""
    room = sum(left.values(), ZERO)
    if pool <= 0 or room <= 0:
        return
    for pk, amount in left.items():
        part = amount if pool >= room else min(amount, pool * amount / room)
        used[pk] += part
        left[pk] -= part


def _line_usage(invoice: Invoice, lines: list[InvoiceLine], reversals: list[tuple]) -> dict:
    """{(kind, record pk): {line pk: (fraction of the line used, line used up)}}."""
    left = {line.pk: max(line.amount, ZERO) for line in lines}
    by_line_id = {line.line_id: line for line in lines}
    usage = {}
    for _, kind, record, _ in reversals:
        used = defaultdict(lambda: ZERO)
        if kind == AccrualSource.CREDIT_LINE:
            pool = ZERO
            for credit_line in record.lines.all():
                line = by_line_id.get(credit_line.line_id)
                take = min(credit_line.amount, left[line.pk]) if line is not None else ZERO
                if take > 0:
                    used[line.pk] += take
                    left[line.pk] -= take
                pool += credit_line.amount - take
        else:
            total = invoice.total_amount
            pool = record.amount * invoice.subtotal_amount / total if total > 0 else ZERO
        _spread(pool, left, used)
        usage[(kind, record.pk)] = {
            line.pk: (used[line.pk] / line.amount, left[line.pk] <= 0)
            for line in lines
            if line.amount > 0
        }
    return usage


def _payment_usage(reversals: list[tuple]) -> dict:
    """{(refund kind, refund pk): {payment pk: (fraction refunded, payment fully refunded)}}."""
    refunded = defaultdict(lambda: ZERO)
    usage = {}
    for _, kind, refund, _ in reversals:
        payment = refund.payment
        refunded[payment.pk] += refund.amount
        share = min(ONE, refund.amount / payment.amount)
        usage[(kind, refund.pk)] = {payment.pk: (share, refunded[payment.pk] >= payment.amount)}
    return usage


def clawbacks_desired(
    *, kind: str, start: dt.date, end: dt.date, partner_pks=None
) -> dict[tuple[int, str], dict]:
    """{(rule_pk, source_key): values} of every clawback dated in the window."""
    lo, hi = _day_range(start, end)
    window = _ordered(
        _credit_notes(issue_date__gte=start, issue_date__lte=end)
        + _write_offs(event__event_time__gte=lo, event__event_time__lt=hi)
        + _refunds(issued_at__gte=lo, issued_at__lt=hi)
    )
    if not window:
        return {}
    invoice_pks = {r[2].invoice_id for r in window if r[1] != AccrualSource.REFUND}
    payment_pks = {r[2].payment_id for r in window if r[1] == AccrualSource.REFUND}
    # Earlier reversals of the same documents used up part of them: replay them all.
    on_invoices = _ordered(
        _credit_notes(invoice_id__in=invoice_pks) + _write_offs(invoice_id__in=invoice_pks)
    )
    usage = _payment_usage(_ordered(_refunds(payment_id__in=payment_pks)))
    lines = defaultdict(list)
    for line in InvoiceLine.objects.filter(invoice_id__in=invoice_pks).order_by("id"):
        lines[line.invoice_id].append(line)
    for invoice in Invoice.objects.filter(pk__in=invoice_pks):
        mine = [r for r in on_invoices if r[2].invoice_id == invoice.pk]
        usage.update(_line_usage(invoice, lines[invoice.pk], mine))

    sources = Accrual.objects.filter(
        agreement__settlement_period=kind, amount__gt=0, clawback_of__isnull=True
    ).select_related("rule")
    if partner_pks is not None:
        sources = sources.filter(partner_id__in=partner_pks)
    by_invoice, by_payment = defaultdict(list), defaultdict(list)
    for accrual in sources.filter(
        source_kind=AccrualSource.INVOICE_LINE, invoice_id__in=invoice_pks
    ):
        by_invoice[accrual.invoice_id].append(accrual)
    for accrual in sources.filter(source_kind=AccrualSource.PAYMENT, payment_id__in=payment_pks):
        by_payment[accrual.payment_id].append(accrual)
    targets = [a for group in (*by_invoice.values(), *by_payment.values()) for a in group]
    # What other windows already took back from each source (this window's are rewritten).
    taken = defaultdict(lambda: ZERO)
    earlier = Accrual.objects.filter(clawback_of__in=targets, source_kind__in=CLAWBACK_SOURCES)
    for clawback in earlier.exclude(period_start=start, period_end=end):
        taken[clawback.clawback_of_id] += clawback.amount

    desired = {}
    for day, source_kind, record, label in window:
        used = usage[(source_kind, record.pk)]
        if source_kind == AccrualSource.REFUND:
            pairs = [(a, used[a.payment_id]) for a in by_payment[record.payment_id]]
        else:
            pairs = [
                (a, used.get(int(a.source_key.split(":")[1]), (ZERO, False)))
                for a in by_invoice[record.invoice_id]
            ]
        for source, (share, used_up) in pairs:
            left = source.amount + taken[source.pk]
            amount = (
                left if used_up else min(quantize(source.amount * share, source.currency), left)
            )
            if share <= 0 or amount <= 0:
                continue
            taken[source.pk] -= amount
            key = f"{source_kind}:{record.pk}>accrual:{source.pk}"
            desired[(source.rule_id, key)] = _values(
                source, source_kind, day, label, share, amount, start=start, end=end
            )
    return desired


def _values(source: Accrual, kind, day, label, share, amount, *, start, end) -> dict:
    cur = source.currency
    basis = quantize(source.basis_amount * share, cur)
    how = (
        f"{fmt(source.rate, cur)} per unit"
        if source.rule.kind == "per_unit"
        else percent_text(source.rate)
    )
    text = (
        f"clawback: {label} takes back {fmt(basis, cur)} of {source.source_ref} "
        f"({percent_text((share * 100).quantize(_PERCENT))}); {fmt(amount, cur)} of the "
        f"{fmt(source.amount, cur)} accrued at {how}, rule {source.rule.code}"
    )
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
        "basis_amount": -basis,
        "amount": -amount,
        "currency": cur,
        "explanation": text[:500],
        "clawback_of_id": source.pk,
    }
