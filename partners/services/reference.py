"""The accrual engine's reference reads: the candidates of a window in plain ORM and Python.

Slow (it walks every invoice of the window) and obviously right; the engine uses
`partners.services.bulk`, and tests/partners/test_engine_paths.py holds the two equal.
"""

from __future__ import annotations

import datetime as dt

from billing.models import Invoice, PaymentAllocation
from partners.choices import AgreementState, CommissionBasis, RuleKind
from partners.models import Agreement, Attribution
from partners.services.candidates import Candidate, dedupe


def _attributed(invoice: Invoice, attributions: list[Attribution]) -> list[Attribution]:
    """Attributions live on the issue date: the subscription's, else the customer's."""
    live = [a for a in attributions if a.covers(invoice.issue_date)]
    subscription = invoice.subscription_id
    direct = [a for a in live if subscription and a.subscription_id == subscription]
    return direct or [a for a in live if a.customer_id == invoice.customer_id]


def _agreements_for(invoice, earners, agreements, kind, basis) -> list[Agreement]:
    chosen = []
    for agreement in agreements:
        if agreement.basis != basis or agreement.settlement_period != kind:
            continue
        if agreement.currency != invoice.currency or not agreement.covers(invoice.issue_date):
            continue
        for partner_pk, parent_pk in earners:
            if agreement.partner_id == partner_pk or (
                agreement.partner_id == parent_pk and agreement.override_on_children
            ):
                chosen.append(agreement)
                break
    return chosen


def _for_invoice(invoice, attributions, agreements, kind, basis, **cash) -> list[Candidate]:
    earners = [(a.partner_id, a.partner.parent_id) for a in _attributed(invoice, attributions)]
    found = []
    for agreement in _agreements_for(invoice, earners, agreements, kind, basis):
        for rule in agreement.rules.all():
            if rule.kind == RuleKind.CAP:
                continue
            for number, line in enumerate(invoice.lines.all(), start=1):
                found.append(
                    Candidate(
                        basis=basis,
                        partner_pk=agreement.partner_id,
                        agreement_pk=agreement.pk,
                        rule_pk=rule.pk,
                        rule_kind=rule.kind,
                        invoice_pk=invoice.pk,
                        invoice_id=invoice.invoice_id,
                        issue_date=invoice.issue_date,
                        currency=invoice.currency,
                        invoice_total=invoice.total_amount,
                        customer_pk=invoice.customer_id,
                        country=invoice.customer.country,
                        line_pk=line.pk,
                        line_id=line.line_id,
                        line_number=number,
                        product_family=line.product_family,
                        quantity=line.quantity,
                        line_amount=line.amount,
                        **cash,
                    )
                )
    return found


def candidates(*, kind: str, start: dt.date, end: dt.date, partner_pks=None) -> list[Candidate]:
    """What `partners.services.bulk.candidates` returns, computed one invoice at a time."""
    attributions = list(Attribution.objects.select_related("partner"))
    agreements = list(
        Agreement.objects.filter(state=AgreementState.ACTIVE).prefetch_related("rules")
    )
    if partner_pks is not None:
        agreements = [a for a in agreements if a.partner_id in set(partner_pks)]
    invoices = Invoice.objects.select_related("customer").prefetch_related("lines")
    found = []
    for invoice in invoices.filter(issue_date__gte=start, issue_date__lte=end):
        found += _for_invoice(invoice, attributions, agreements, kind, CommissionBasis.INVOICED)
    lo = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
    hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
    allocations = PaymentAllocation.objects.select_related("payment", "invoice__customer")
    for allocation in allocations.filter(payment__received_at__gte=lo, payment__received_at__lt=hi):
        found += _for_invoice(
            allocation.invoice,
            attributions,
            agreements,
            kind,
            CommissionBasis.COLLECTED,
            allocation_pk=allocation.pk,
            allocation_amount=allocation.amount,
            payment_pk=allocation.payment_id,
            payment_id=allocation.payment.payment_id,
            received_on=allocation.payment.received_at.astimezone(dt.UTC).date(),
        )
    return dedupe(found)
