"""The usage and partners scopes: two sides of Concord's own records, compared as totals.

- usage: per subscription, the usage recorded (UsageRecord) against the usage invoiced
  (invoice lines of the subscription whose product family bills usage,
  settings.RECONCILIATION_USAGE_FAMILIES, default "usage"). Usage is billed in arrears:
  nothing links a usage record to an invoice line, so a record belongs to the
  subscription's first usage-billing invoice issued after its period ended (or, while none
  is, to the day after its period ended). A run of [start, end] compares the records so
  attributed to a day in [start, end] with the usage lines of the invoices issued then.
- partners: per partner, settlement period and currency, the accruals of the periods ending
  in the run's period against the settlement lines paying them (a line counts in its
  accrual's period, a line whose accrual a recompute removed in its settlement's period).

Each scope is one INSERT ... SELECT writing a TotalsRow per subject from the two sides'
grouped sums (a UNION ALL grouped again: a full outer join SQLite and PostgreSQL both run),
then one SELECT classifies the rows that differ. Sums are rounded before they are compared,
so SQLite (floats) and PostgreSQL (numerics) give the same answer.
"""

# ruff: noqa: S608 -- statements are built from _meta names and fixed fragments; values
# only ever travel as parameters.
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache

from django.conf import settings
from django.db import connection

from billing.models import (
    CreditNote,
    CreditNoteLine,
    Customer,
    Invoice,
    InvoiceLine,
    Subscription,
    UsageRecord,
)
from config.money import AMOUNT_DECIMAL_PLACES, RATE_DECIMAL_PLACES
from partners.models import Accrual, Partner, Settlement, SettlementLine
from reconciliation.choices import DEFAULT_USAGE_FAMILIES, BreakKind, RunScope
from reconciliation.models import ReconciliationRun, TotalsRow
from reconciliation.services.snapshot import tolerance_for, tolerances


def _col(model, name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


@cache
def _names() -> dict[str, str]:
    qn = connection.ops.quote_name
    names = {
        "totals": qn(TotalsRow._meta.db_table),
        "usage": qn(UsageRecord._meta.db_table),
        "sub": qn(Subscription._meta.db_table),
        "cust": qn(Customer._meta.db_table),
        "inv": qn(Invoice._meta.db_table),
        "line": qn(InvoiceLine._meta.db_table),
        "cn": qn(CreditNote._meta.db_table),
        "cn_line": qn(CreditNoteLine._meta.db_table),
        "n_inv": _col(CreditNote, "invoice"),
        "n_entity": _col(CreditNote, "entity"),
        "cl_cn": _col(CreditNoteLine, "credit_note"),
        "accrual": qn(Accrual._meta.db_table),
        "partner": qn(Partner._meta.db_table),
        "settlement": qn(Settlement._meta.db_table),
        "sline": qn(SettlementLine._meta.db_table),
        "t_run": _col(TotalsRow, "run"),
        "u_sub": _col(UsageRecord, "subscription"),
        "s_cust": _col(Subscription, "customer"),
        "c_entity": _col(Customer, "entity"),
        "i_entity": _col(Invoice, "entity"),
        "i_sub": _col(Invoice, "subscription"),
        "l_inv": _col(InvoiceLine, "invoice"),
        "a_partner": _col(Accrual, "partner"),
        "p_entity": _col(Partner, "paying_entity"),
        "st_partner": _col(Settlement, "partner"),
        "sl_settlement": _col(SettlementLine, "settlement"),
        "sl_accrual": _col(SettlementLine, "accrual"),
    }
    return names


def _sql(template: str) -> str:
    return template.format(**_names())


def _execute(sql: str, params: Sequence) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.rowcount


def usage_families() -> tuple[str, ...]:
    return tuple(getattr(settings, "RECONCILIATION_USAGE_FAMILIES", DEFAULT_USAGE_FAMILIES))


# Both sides as (subject, subject_start, party_code, currency, expected count, quantity,
# amount, actual count, quantity, amount), grouped again into one TotalsRow per subject.
_INSERT = (
    "INSERT INTO {totals} ({t_run}, subject, subject_start, party_code, currency, "
    "expected_count, expected_quantity, expected_amount, actual_count, actual_quantity, "
    "actual_amount, tolerance_amount) "
    "SELECT %s, subject, subject_start, MAX(party_code), currency, SUM(ec), SUM(eq), SUM(ea), "
    "SUM(ac), SUM(aq), SUM(aa), 0 FROM ({sides}) sides "
    "GROUP BY subject, subject_start, currency"
)


def _date_param() -> str:
    """A date parameter as a date (SQLite keeps dates as text: a CAST would make it 2026)."""
    return "CAST(%s AS DATE)" if connection.vendor == "postgresql" else "%s"


def _usage_sides(families: Sequence[str]) -> str:
    in_families = ", ".join(["%s"] * len(families))
    # The invoice that bills a usage record: the subscription's first invoice with a usage
    # line issued after the record's period ended.
    billed_on = (
        "(SELECT MIN(i.issue_date) FROM {inv} i WHERE i.{i_sub} = u.{u_sub} "
        "AND i.issue_date > u.period_end AND EXISTS (SELECT 1 FROM {line} l "
        f"WHERE l.{{l_inv}} = i.id AND l.product_family IN ({in_families})))"
    )
    recorded = (
        f"SELECT s.subscription_id AS subject, {_date_param()} AS subject_start, "
        "c.customer_id AS party_code, u.currency AS currency, COUNT(*) AS ec, "
        "SUM(u.quantity) AS eq, SUM(u.amount) AS ea, 0 AS ac, "
        "CAST(NULL AS NUMERIC) AS aq, 0 AS aa "
        "FROM (SELECT u.id, u.{u_sub}, u.currency, u.quantity, u.amount, u.period_end, "
        f"{billed_on} AS billed_on FROM {{usage}} u WHERE u.period_end <= %s) u "
        "JOIN {sub} s ON s.id = u.{u_sub} JOIN {cust} c ON c.id = s.{s_cust} "
        "WHERE c.{c_entity} = %s AND (u.billed_on BETWEEN %s AND %s "
        "OR (u.billed_on IS NULL AND u.period_end BETWEEN %s AND %s)) "
        "GROUP BY s.subscription_id, c.customer_id, u.currency"
    )
    invoiced = (
        f"SELECT s.subscription_id, {_date_param()}, c.customer_id, i.currency, 0, "
        "CAST(NULL AS NUMERIC), 0, COUNT(*), SUM(l.quantity), SUM(l.amount) FROM {line} l "
        "JOIN {inv} i ON i.id = l.{l_inv} JOIN {sub} s ON s.id = i.{i_sub} "
        "JOIN {cust} c ON c.id = s.{s_cust} "
        "WHERE i.{i_entity} = %s AND i.issue_date BETWEEN %s AND %s "
        f"AND l.product_family IN ({in_families}) "
        "GROUP BY s.subscription_id, c.customer_id, i.currency"
    )
    # Usage credited back (credit-note lines of a usage family) nets the invoiced side, in
    # the period of the credit note's own date: a fully credited usage invoice leaves the
    # recorded usage uninvoiced, a corrected quantity matches again.
    credited = (
        f"SELECT s.subscription_id, {_date_param()}, c.customer_id, i.currency, 0, "
        "CAST(NULL AS NUMERIC), 0, 0, -SUM(l.quantity), -SUM(l.amount) FROM {cn_line} l "
        "JOIN {cn} n ON n.id = l.{cl_cn} JOIN {inv} i ON i.id = n.{n_inv} "
        "JOIN {sub} s ON s.id = i.{i_sub} JOIN {cust} c ON c.id = s.{s_cust} "
        "WHERE n.{n_entity} = %s AND n.issue_date BETWEEN %s AND %s "
        f"AND l.product_family IN ({in_families}) "
        "GROUP BY s.subscription_id, c.customer_id, i.currency"
    )
    return recorded + " UNION ALL " + invoiced + " UNION ALL " + credited


def usage_totals_store(run: ReconciliationRun) -> int:
    """Write the run's usage TotalsRows; returns how many.

    A usage record counts in the run whose period holds the day of the invoice that bills
    it (see `_usage_sides`); one no invoice bills yet counts on the day after its period
    ends, when it should have been invoiced.
    """
    families = usage_families()
    day = dt.timedelta(days=1)
    start, end = run.period_start, run.period_end
    sql = _sql(_INSERT.replace("{sides}", _usage_sides(families)))
    params = [run.pk, start, *families, end - day, run.entity_id, start, end]
    params += [start - day, end - day]
    params += [start, run.entity_id, start, end, *families]
    params += [start, run.entity_id, start, end, *families]
    written = _execute(sql, params)
    _tolerances_set(run)
    return written


_PARTNER_SIDES = (
    "SELECT p.partner_id AS subject, a.period_start AS subject_start, "
    "p.partner_id AS party_code, a.currency AS currency, COUNT(*) AS ec, "
    "CAST(NULL AS NUMERIC) AS eq, SUM(a.amount) AS ea, 0 AS ac, "
    "CAST(NULL AS NUMERIC) AS aq, 0 AS aa "
    "FROM {accrual} a JOIN {partner} p ON p.id = a.{a_partner} "
    "WHERE p.{p_entity} = %s AND a.period_end BETWEEN %s AND %s "
    "GROUP BY p.partner_id, a.period_start, a.currency "
    "UNION ALL "
    "SELECT p.partner_id, COALESCE(a.period_start, st.period_start), p.partner_id, "
    "l.currency, 0, CAST(NULL AS NUMERIC), 0, COUNT(*), CAST(NULL AS NUMERIC), "
    "SUM(l.amount) FROM {sline} l "
    "JOIN {settlement} st ON st.id = l.{sl_settlement} "
    "JOIN {partner} p ON p.id = st.{st_partner} "
    "LEFT JOIN {accrual} a ON a.id = l.{sl_accrual} "
    "WHERE p.{p_entity} = %s AND COALESCE(a.period_end, st.period_end) BETWEEN %s AND %s "
    "GROUP BY p.partner_id, COALESCE(a.period_start, st.period_start), l.currency"
)


def partner_totals_store(run: ReconciliationRun) -> int:
    """Write the run's partners TotalsRows; returns how many."""
    side = [run.entity_id, run.period_start, run.period_end]
    sql = _sql(_INSERT.replace("{sides}", _PARTNER_SIDES))
    written = _execute(sql, [run.pk, *side, *side])
    _tolerances_set(run)
    return written


def _tolerances_set(run: ReconciliationRun) -> None:
    """Each row's currency tolerance: one UPDATE per currency of the run (a handful)."""
    configured = tolerances()
    rows = TotalsRow.objects.filter(run=run)
    for currency in rows.values_list("currency", flat=True).distinct().order_by():
        rows.filter(currency=currency).update(tolerance_amount=tolerance_for(currency, configured))


def totals_store(run: ReconciliationRun) -> int:
    if run.scope == RunScope.USAGE:
        return usage_totals_store(run)
    if run.scope == RunScope.PARTNERS:
        return partner_totals_store(run)
    raise ValueError(f"{run.scope} is not a totals scope")


# The kinds per scope: (expected side empty, actual side empty). The mismatches follow.
_MISSING = {
    RunScope.USAGE: (BreakKind.USAGE_NOT_RECORDED, BreakKind.USAGE_NOT_INVOICED),
    RunScope.PARTNERS: (BreakKind.SETTLED_NOT_ACCRUED, BreakKind.ACCRUAL_NOT_SETTLED),
}
_AMOUNT_DIFFERS = (
    f"ROUND(ABS(t.actual_amount - t.expected_amount), {AMOUNT_DECIMAL_PLACES}) > t.tolerance_amount"
)
_QUANTITY_DIFFERS = (
    f"ROUND(COALESCE(t.actual_quantity, 0) - COALESCE(t.expected_quantity, 0), "
    f"{RATE_DECIMAL_PLACES}) <> 0"
)


def totals_breaks_found(run: ReconciliationRun) -> list[tuple[str, int]]:
    """Every break of a totals run: (kind, TotalsRow id), one per row at most.

    A side with no rows is missing; else a quantity difference (usage) comes before an
    amount difference beyond the currency's tolerance.
    """
    not_expected, not_actual = _MISSING[run.scope]
    cases = [
        ("t.expected_count = 0", not_expected),
        ("t.actual_count = 0", not_actual),
    ]
    if run.scope == RunScope.USAGE:
        cases.append((_QUANTITY_DIFFERS, BreakKind.QUANTITY_MISMATCH))
    cases.append((_AMOUNT_DIFFERS, BreakKind.AMOUNT_MISMATCH))
    when = " ".join(f"WHEN {condition} THEN %s" for condition, _ in cases)
    sql = _sql(
        f"SELECT kind, id FROM (SELECT CASE {when} ELSE NULL END AS kind, t.id AS id "
        "FROM {totals} t WHERE t.{t_run} = %s) k WHERE kind IS NOT NULL ORDER BY id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*(str(kind) for _, kind in cases), run.pk])
        return [(str(kind), row_id) for kind, row_id in cursor.fetchall()]
