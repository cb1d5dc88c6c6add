"""Clawbacks: what credit notes, write-offs and refunds take back from what their source
accrued, with a negative sign and never more than is left of the source accrual.

- invoiced basis: a credit note reverses, per invoice line, the share it credits (a credit
  line with the invoice line's line_id credits that line; other credit lines credit every
  line in proportion to the invoice's net); a write-off reverses its share of the invoice's
  gross total on every line.
- collected basis: a refund reverses its share of the payment on every accrual the payment
  earned. (Credit notes and write-offs take nothing back there: uncollected money never
  earned; refunds take nothing back on invoiced basis: the credit note does. So no money is
  taken back twice.)

Reversals are applied in date order; each clawback is keyed by (reversal, source accrual).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from billing.models import CreditNote, InvoiceLine, Refund, WriteOff
from config.money import quantize
from partners.choices import CLAWBACK_SOURCES, AccrualSource
from partners.models import Accrual
from partners.services.rates import ZERO, fmt, percent_text

ONE = Decimal(1)


def _day_range(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    return lo, dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)


def _reversals(start: dt.date, end: dt.date) -> list[tuple]:
    """(day, kind, record, label) of every reversal dated in the window, in date order."""
    lo, hi = _day_range(start, end)
    found = []
    for note in (
        CreditNote.objects.filter(issue_date__gte=start, issue_date__lte=end)
        .select_related("invoice")
        .prefetch_related("lines")
    ):
        found.append((note.issue_date, AccrualSource.CREDIT_LINE, note, note.credit_note_id))
    for off in WriteOff.objects.filter(
        event__event_time__gte=lo, event__event_time__lt=hi
    ).select_related("invoice", "event"):
        label = f"write-off of {off.invoice.invoice_id}"
        found.append(
            (off.event.event_time.astimezone(dt.UTC).date(), AccrualSource.WRITE_OFF, off, label)
        )
    for refund in Refund.objects.filter(issued_at__gte=lo, issued_at__lt=hi).select_related(
        "payment"
    ):
        found.append(
            (
                refund.issued_at.astimezone(dt.UTC).date(),
                AccrualSource.REFUND,
                refund,
                refund.refund_id,
            )
        )
    return sorted(found, key=lambda r: (r[0], r[1], r[2].pk))


def _credit_fractions(note: CreditNote, lines: dict[int, InvoiceLine]) -> dict[int, Decimal]:
    """{invoice line pk: fraction of it the credit note credits} (at most 1)."""
    by_line_id = {line.line_id: line for line in lines.values()}
    matched, unmatched = defaultdict(lambda: ZERO), ZERO
    for credit_line in note.lines.all():
        line = by_line_id.get(credit_line.line_id)
        if line is not None and line.amount > 0:
            matched[line.pk] += credit_line.amount
        else:
            unmatched += credit_line.amount
    subtotal = note.invoice.subtotal_amount
    spread = unmatched / subtotal if subtotal > 0 else ZERO
    return {
        pk: min(ONE, (matched[pk] / line.amount if line.amount > 0 else ZERO) + spread)
        for pk, line in lines.items()
    }


def clawbacks_desired(
    *, kind: str, start: dt.date, end: dt.date, partner_pks=None
) -> dict[tuple[int, str], dict]:
    """{(rule_pk, source_key): values} of every clawback dated in the window."""
    reversals = _reversals(start, end)
    if not reversals:
        return {}
    invoices = {r[2].invoice_id for r in reversals if r[1] != AccrualSource.REFUND}
    payments = {r[2].payment_id for r in reversals if r[1] == AccrualSource.REFUND}
    sources = Accrual.objects.filter(
        agreement__settlement_period=kind, amount__gt=0, clawback_of__isnull=True
    ).select_related("agreement", "rule")
    invoice_sources = sources.filter(
        source_kind=AccrualSource.INVOICE_LINE, invoice_id__in=invoices
    )
    payment_sources = sources.filter(source_kind=AccrualSource.PAYMENT, payment_id__in=payments)
    if partner_pks is not None:
        invoice_sources = invoice_sources.filter(partner_id__in=partner_pks)
        payment_sources = payment_sources.filter(partner_id__in=partner_pks)
    by_invoice, by_payment = defaultdict(list), defaultdict(list)
    for accrual in invoice_sources:
        by_invoice[accrual.invoice_id].append(accrual)
    for accrual in payment_sources:
        by_payment[accrual.payment_id].append(accrual)
    all_sources = [a for group in (*by_invoice.values(), *by_payment.values()) for a in group]
    # What other windows (or frozen statements) already took back from each source.
    taken = defaultdict(lambda: ZERO)
    earlier = Accrual.objects.filter(clawback_of__in=all_sources, source_kind__in=CLAWBACK_SOURCES)
    for clawback in earlier.exclude(period_start=start, period_end=end):
        taken[clawback.clawback_of_id] += clawback.amount
    lines = InvoiceLine.objects.in_bulk(
        {int(a.source_key.split(":")[1]) for group in by_invoice.values() for a in group}
    )
    lines_of = defaultdict(dict)
    for line in lines.values():
        lines_of[line.invoice_id][line.pk] = line
    desired = {}
    for day, source_kind, record, label in reversals:
        if source_kind == AccrualSource.CREDIT_LINE:
            fractions = _credit_fractions(record, lines_of[record.invoice_id])
            targets = [
                (a, fractions.get(int(a.source_key.split(":")[1]), ZERO))
                for a in by_invoice[record.invoice_id]
            ]
        elif source_kind == AccrualSource.WRITE_OFF:
            total = record.invoice.total_amount
            share = min(ONE, record.amount / total) if total > 0 else ZERO
            targets = [(a, share) for a in by_invoice[record.invoice_id]]
        else:
            share = min(ONE, record.amount / record.payment.amount)
            targets = [(a, share) for a in by_payment[record.payment_id]]
        for source, share in targets:
            if share <= 0 or source.agreement.settlement_period != kind:
                continue
            left = source.amount + taken[source.pk]
            amount = min(quantize(source.amount * share, source.currency), left)
            if amount <= 0:
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
    text = (
        f"clawback: {label} takes back {fmt(basis, cur)} of {source.source_ref} "
        f"({percent_text(share * 100)}); {fmt(amount, cur)} of the {fmt(source.amount, cur)} "
        f"accrued at {percent_text(source.rate)}, rule {source.rule.code}"
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
