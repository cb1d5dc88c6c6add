"""The accrual engine's set-based reads: every candidate of a window in two statements.

Measured need: tests/benchmarks (1,000,000 invoice lines) — a query per line is what this
module exists to avoid. Table and column names come from the models' _meta, never written
twice; each statement says in one line why it is shaped the way it is. Values are converted
to Decimal/date here (SQLite hands back floats and strings).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import connection
from django.utils.dateparse import parse_date, parse_datetime

from billing.models import Customer, Invoice, InvoiceLine, Payment, PaymentAllocation
from partners.choices import AgreementState, CommissionBasis, RuleKind
from partners.models import Agreement, Attribution, CommissionRule, Partner
from partners.services.candidates import Candidate, dedupe

_FOUR = Decimal("0.0001")
_EIGHT = Decimal("0.00000001")


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _c(alias: str, model, field: str) -> str:
    return f"{alias}.{connection.ops.quote_name(model._meta.get_field(field).column)}"


def _decimal(value, exponent: Decimal) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(exponent)


def _date(value) -> dt.date:
    return parse_date(value) if isinstance(value, str) else value


def _utc_day(value) -> dt.date:
    """The UTC date of a stored datetime (SQLite gives naive UTC text)."""
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).date()


def _covers(alias: str, model, start: str, end: str, day: str) -> str:
    """SQL: [start, end) of `alias` covers `day` (end NULL = open-ended)."""
    lo, hi = _c(alias, model, start), _c(alias, model, end)
    return f"{lo} <= {day} AND ({hi} IS NULL OR {hi} > {day})"


def _from_where(basis: str) -> str:
    """The joins shared by both bases: line → invoice → customer → attribution → agreement."""
    issue = _c("i", Invoice, "issue_date")
    sub_attr = _c("a", Attribution, "subscription")
    cust_attr = _c("a", Attribution, "customer")
    earner = _c("g", Agreement, "partner")
    sources = {
        CommissionBasis.INVOICED: f"{_t(InvoiceLine)} l "
        f"JOIN {_t(Invoice)} i ON i.id = {_c('l', InvoiceLine, 'invoice')}",
        CommissionBasis.COLLECTED: f"{_t(PaymentAllocation)} pa "
        f"JOIN {_t(Payment)} pm ON pm.id = {_c('pa', PaymentAllocation, 'payment')} "
        f"JOIN {_t(Invoice)} i ON i.id = {_c('pa', PaymentAllocation, 'invoice')} "
        f"JOIN {_t(InvoiceLine)} l ON {_c('l', InvoiceLine, 'invoice')} = i.id",
    }
    return (
        f"FROM {sources[basis]} "  # noqa: S608 (names from _meta, values as parameters)
        f"JOIN {_t(Customer)} c ON c.id = {_c('i', Invoice, 'customer')} "
        # A subscription's attribution wins; the customer's counts only when it has none.
        f"JOIN {_t(Attribution)} a ON {_covers('a', Attribution, 'valid_from', 'valid_to', issue)} "
        f"AND ({sub_attr} = {_c('i', Invoice, 'subscription')} OR ({cust_attr} = "
        f"{_c('i', Invoice, 'customer')} AND NOT EXISTS (SELECT 1 FROM {_t(Attribution)} s "
        f"WHERE {_c('s', Attribution, 'subscription')} = {_c('i', Invoice, 'subscription')} "
        f"AND {_covers('s', Attribution, 'valid_from', 'valid_to', issue)}))) "
        f"JOIN {_t(Partner)} p ON p.id = {_c('a', Attribution, 'partner')} "
        # The attributed partner earns; so does its parent when the parent's agreement says so.
        f"JOIN {_t(Agreement)} g ON ({earner} = p.id OR ({earner} = {_c('p', Partner, 'parent')} "
        f"AND {_c('g', Agreement, 'override_on_children')} = %s)) "
        f"AND {_c('g', Agreement, 'state')} = %s AND {_c('g', Agreement, 'basis')} = %s "
        f"AND {_c('g', Agreement, 'currency')} = {_c('i', Invoice, 'currency')} "
        f"AND {_c('g', Agreement, 'settlement_period')} = %s "
        f"AND {_covers('g', Agreement, 'effective_from', 'effective_to', issue)} "
        f"JOIN {_t(CommissionRule)} r ON {_c('r', CommissionRule, 'agreement')} = g.id "
        f"AND {_c('r', CommissionRule, 'kind')} <> %s "
    )


_COLUMNS = (
    "{earner}, g.id, r.id, {kind}, i.id, {invoice_id}, {issue}, {currency}, {total}, c.id, "
    "{country}, l.id, {line_id}, (SELECT COUNT(*) FROM {lines} n WHERE {n_invoice} = i.id "
    "AND n.id <= l.id), {family}, {quantity}, {amount}"
)


def _columns() -> str:
    return _COLUMNS.format(
        earner=_c("g", Agreement, "partner"),
        kind=_c("r", CommissionRule, "kind"),
        invoice_id=_c("i", Invoice, "invoice_id"),
        issue=_c("i", Invoice, "issue_date"),
        currency=_c("i", Invoice, "currency"),
        total=_c("i", Invoice, "total_amount"),
        country=_c("c", Customer, "country"),
        line_id=_c("l", InvoiceLine, "line_id"),
        lines=_t(InvoiceLine),
        n_invoice=_c("n", InvoiceLine, "invoice"),
        family=_c("l", InvoiceLine, "product_family"),
        quantity=_c("l", InvoiceLine, "quantity"),
        amount=_c("l", InvoiceLine, "amount"),
    )


def _dates(*days: dt.date) -> list:
    return [connection.ops.adapt_datefield_value(day) for day in days]


def _partner_filter(partner_pks) -> tuple[str, list]:
    if partner_pks is None:
        return "", []
    pks = list(partner_pks) or [0]
    return f" AND {_c('g', Agreement, 'partner')} IN ({', '.join(['%s'] * len(pks))})", pks


def _common(row) -> dict:
    return {
        "partner_pk": row[0],
        "agreement_pk": row[1],
        "rule_pk": row[2],
        "rule_kind": row[3],
        "invoice_pk": row[4],
        "invoice_id": row[5],
        "issue_date": _date(row[6]),
        "currency": row[7],
        "invoice_total": _decimal(row[8], _FOUR),
        "customer_pk": row[9],
        "country": row[10],
        "line_pk": row[11],
        "line_id": row[12],
        "line_number": row[13],
        "product_family": row[14],
        "quantity": _decimal(row[15], _EIGHT),
        "line_amount": _decimal(row[16], _FOUR),
    }


def candidates(*, kind: str, start: dt.date, end: dt.date, partner_pks=None) -> list[Candidate]:
    """Every candidate of the window [start, end] for agreements of period `kind`."""
    fixed = [True, AgreementState.ACTIVE]
    rest = [kind, RuleKind.CAP]
    where, partner_params = _partner_filter(partner_pks)
    issue = _c("i", Invoice, "issue_date")
    received = _c("pm", Payment, "received_at")
    found = []
    with connection.cursor() as cursor:
        # Invoiced basis: one statement joins every line of the window to its earners' rules.
        cursor.execute(
            f"SELECT {_columns()} {_from_where(CommissionBasis.INVOICED)} "
            f"WHERE {issue} >= %s AND {issue} <= %s{where}",
            [*fixed, CommissionBasis.INVOICED, *rest, *_dates(start, end), *partner_params],
        )
        for row in cursor.fetchall():
            found.append(Candidate(basis=CommissionBasis.INVOICED, **_common(row)))
        # Collected basis: the same joins from each allocation of a payment received in the
        # window, compared as aware datetimes so that the index on received_at serves it.
        lo = dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
        hi = dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC)
        lo, hi = (connection.ops.adapt_datetimefield_value(v) for v in (lo, hi))
        cursor.execute(
            f"SELECT {_columns()}, pa.id, {_c('pa', PaymentAllocation, 'amount')}, pm.id, "
            f"{_c('pm', Payment, 'payment_id')}, {received} "
            f"{_from_where(CommissionBasis.COLLECTED)} "
            f"WHERE {received} >= %s AND {received} < %s{where}",
            [*fixed, CommissionBasis.COLLECTED, *rest, lo, hi, *partner_params],
        )
        for row in cursor.fetchall():
            found.append(
                Candidate(
                    basis=CommissionBasis.COLLECTED,
                    **_common(row),
                    allocation_pk=row[17],
                    allocation_amount=_decimal(row[18], _FOUR),
                    payment_pk=row[19],
                    payment_id=row[20],
                    received_on=_utc_day(row[21]),
                )
            )
    return dedupe(found)
