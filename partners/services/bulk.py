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


def candidates(
    *, kind: str, start: dt.date, end: dt.date, partner_pks=None, skip_percent_rows=False
) -> list[Candidate]:
    """Every candidate of the window [start, end] for agreements of period `kind`; without
    the invoiced percent-of-net ones when `skip_percent_rows` (`percent_rows` makes them)."""
    fixed = [True, AgreementState.ACTIVE]
    rest = [kind, RuleKind.CAP]
    where, partner_params = _partner_filter(partner_pks)
    issue = _c("i", Invoice, "issue_date")
    received = _c("pm", Payment, "received_at")
    skip = f" AND {_c('r', CommissionRule, 'kind')} <> %s" if skip_percent_rows else ""
    found = []
    with connection.cursor() as cursor:
        # Invoiced basis: one statement joins every line of the window to its earners' rules.
        cursor.execute(
            f"SELECT {_columns()} {_from_where(CommissionBasis.INVOICED)} "
            f"WHERE {issue} >= %s AND {issue} <= %s{where}{skip}",
            [
                *fixed,
                CommissionBasis.INVOICED,
                *rest,
                *_dates(start, end),
                *partner_params,
                *([SQL_RULE_KIND] if skip_percent_rows else []),
            ],
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


# ---------------------------------------------------------------------------------------------
# Percent of net, invoiced basis, on PostgreSQL: the accrual rows themselves in one SELECT.
# Measured need: tests/benchmarks/bench_accruals.py (1,000,000 lines: the Python path built a
# Candidate, a dict and two model instances per line). Its rows equal what
# engine.lines_desired makes of the same candidates (tests/partners/test_engine_paths.py runs
# both on PostgreSQL); the explanation is formatted by to_char like rates.fmt/percent_text.

SQL_RULE_KIND = RuleKind.PERCENT_OF_NET
SQL_BASIS = CommissionBasis.INVOICED


def _minor(currencies, template: str) -> str:
    """CASE over the currencies whose minor unit is not 2 (config.money)."""
    from config.money import minor_units

    whens = [
        template.format(cur=f"'{code}'", digits=minor_units(code))
        for code in sorted(currencies)
        if code.isalpha() and minor_units(code) != 2
    ]
    return " ".join(whens)


def _round(expr: str, currencies) -> str:
    whens = _minor(currencies, "WHEN {cur} THEN round(" + expr + ", {digits})")
    return f"(CASE l.currency {whens} ELSE round({expr}, 2) END)" if whens else f"round({expr}, 2)"


def _money_text(expr: str, currencies) -> str:
    pattern = "FM999,999,999,999,999,990"
    whens = _minor(
        currencies,
        "WHEN {cur} THEN to_char(round(" + expr + ", {digits}), '" + pattern + ".' || "
        "repeat('0', {digits}))",
    ).replace(".' || repeat('0', 0)", "' || ''")
    plain = f"to_char(round({expr}, 2), '{pattern}.00')"
    return f"(CASE l.currency {whens} ELSE {plain} END)" if whens else plain


_PERCENT_TEXT = (
    "(CASE WHEN r.rate_percent = trunc(r.rate_percent) "
    "THEN trunc(r.rate_percent)::numeric(40, 0)::text ELSE rtrim(r.rate_percent::text, '0') END)"
)


def percent_rows(*, kind: str, start: dt.date, end: dt.date, partner_pks=None) -> tuple:
    """(sql, params): a SELECT of the line accruals of the window's invoiced percent-of-net
    rules, columns named as Accrual's (rule_id, source_key and writer.COMPARED)."""
    currencies = set(
        Agreement.objects.filter(state=AgreementState.ACTIVE).values_list("currency", flat=True)
    )
    where, partner_params = _partner_filter(partner_pks)
    covers_i = (
        "{a}.valid_from <= i.issue_date AND ({a}.valid_to IS NULL OR {a}.valid_to > i.issue_date)"
    )
    amount = _round("r.rate_percent * l.amount / 100", currencies)
    ref = "l.number || ' line ' || l.n"
    # Measured (bench_accruals, EXPLAIN ANALYZE, 1,000,000 lines): lines filtered by
    # `IN (SELECT DISTINCT inv FROM earning)` are estimated at a few hundred rows, and the
    # final joins became nested loops (41 s); numbering every line of the window's invoices
    # and carrying the invoice's columns along takes hash joins (10-15 s). For one partner
    # the window's lines are mostly not theirs: look up their invoices' lines by index.
    only_earning = (
        "" if partner_pks is None else "WHERE l.invoice_id IN (SELECT DISTINCT inv FROM earning)"
    )
    sql = f"""
WITH inv AS (
  SELECT id, invoice_id, subscription_id, customer_id, issue_date, currency FROM {_t(Invoice)}
  WHERE issue_date >= %s AND issue_date <= %s),
attributed AS (
  -- a subscription's attribution wins; the customer's counts only when it has none
  SELECT i.id AS inv, a.partner_id FROM inv i JOIN {_t(Attribution)} a
    ON a.subscription_id = i.subscription_id AND {covers_i.format(a="a")}
  UNION
  SELECT i.id, a.partner_id FROM inv i JOIN {_t(Attribution)} a
    ON a.customer_id = i.customer_id AND {covers_i.format(a="a")}
  WHERE NOT EXISTS (SELECT 1 FROM {_t(Attribution)} s WHERE s.subscription_id = i.subscription_id
    AND {covers_i.format(a="s")})),
earners AS (
  -- the attributed partner, and its parent when the parent's agreement says so (UNION: once)
  SELECT t.inv, t.partner_id AS earner, false AS via_parent FROM attributed t
  UNION
  SELECT t.inv, p.parent_id, true FROM attributed t
    JOIN {_t(Partner)} p ON p.id = t.partner_id WHERE p.parent_id IS NOT NULL),
earning AS (
  SELECT DISTINCT e.inv, g.id AS agreement_id FROM earners e JOIN inv i ON i.id = e.inv
  JOIN {_t(Agreement)} g ON g.partner_id = e.earner AND (NOT e.via_parent OR g.override_on_children)
    AND g.state = %s AND g.basis = %s AND g.currency = i.currency AND g.settlement_period = %s
    AND g.effective_from <= i.issue_date
    AND (g.effective_to IS NULL OR g.effective_to > i.issue_date){where}),
lines AS (
  -- each line with its invoice's columns and its 1-based position on it (for people)
  SELECT l.id, l.invoice_id, l.amount, l.product_family, i.invoice_id AS number, i.customer_id,
    i.issue_date, i.currency, row_number() OVER (PARTITION BY l.invoice_id ORDER BY l.id) AS n
  FROM {_t(InvoiceLine)} l JOIN inv i ON i.id = l.invoice_id {only_earning})
SELECT r.id AS rule_id, 'invoice_line:' || l.id AS source_key,
  g.partner_id, g.id AS agreement_id, %s::varchar AS source_kind,
  left({ref}, 300)::varchar AS source_ref, l.customer_id, l.invoice_id,
  NULL::bigint AS payment_id, l.issue_date AS accrued_on, %s::date AS period_start,
  %s::date AS period_end, r.rate_percent AS rate, l.amount AS basis_amount,
  {amount} AS amount, l.currency,
  left({_PERCENT_TEXT} || '%% of ' || {_money_text("l.amount", currencies)} || ' net on '
    || {ref} || ', rule ' || r.code, 500)::varchar AS explanation,
  NULL::bigint AS clawback_of_id
FROM earning e JOIN lines l ON l.invoice_id = e.inv
JOIN {_t(Agreement)} g ON g.id = e.agreement_id
JOIN {_t(CommissionRule)} r ON r.agreement_id = g.id AND r.kind = %s
JOIN {_t(Customer)} c ON c.id = l.customer_id
WHERE (jsonb_array_length(r.product_families) = 0 OR r.product_families ? l.product_family)
  AND (jsonb_array_length(r.countries) = 0 OR r.countries ? c.country)
"""  # noqa: S608 (table names from _meta, values as parameters)
    params = [
        *_dates(start, end),
        AgreementState.ACTIVE,
        SQL_BASIS,
        kind,
        *partner_params,
        "invoice_line",
        *_dates(start, end),
        SQL_RULE_KIND,
    ]
    return sql, params
