"""Accruals benchmark: the partner accrual engine against a hand-written INSERT ... SELECT.

`python -m tests.benchmarks.bench_accruals` (or `make bench BENCH=accruals`). On a fresh
PostgreSQL database:

1. Set-up, not timed, written set-based straight into the tables (generate_series; it does
   not go through ingest): one legal entity, 1,000 partners each with an active monthly
   percent-of-net agreement (rates 5%-14.5% in steps of 0.5%, so half-cent ties occur),
   5 customers per partner attributed to it, and N = 1,000,000 x BENCH_SCALE invoice lines
   (4 per invoice) issued in April 2026. VACUUM ANALYZE.
2. Measured: `partners.services.engine.accruals_recompute` for April 2026 (the product's
   public engine service, in-process, one transaction), then once more (idempotent: it must
   write nothing).
3. Baseline, same run: one hand-written `INSERT ... SELECT` writing the same accrual rows
   (same columns, explanation text included) into an equivalent table: `LIKE
   partners_accrual INCLUDING ALL` (same defaults, CHECKs and indexes) plus
   partners_accrual's foreign keys, declared as Django declares them (deferred, checked at
   commit; the statement and its commit are timed, as the engine's commit is).
   ratio = baseline time / engine time. Also timed and printed as extra keys: the same
   into a copy without the foreign keys (`ratio_no_fk`, the baseline until 2026-12-07) and
   into the copy with them that also writes the "+" history rows into a copy of
   partners_historicalaccrual (`ratio_with_fk_and_history`).
4. Checks: per partner, count and total of the engine's accruals equal the baseline's to the
   cent (`mismatches` = partners that differ); rows whose amount or explanation differ are
   printed as `rows_differ`.
5. The engine's time for a mix of every rule kind (percent of net with cap and floor, tiered
   whole-volume and marginal, per unit, rebate, a distributor's override on its resellers)
   on 100,000 x BENCH_SCALE lines in May 2026, agreements made through the agreement service.

Last line: BENCH accruals <s> s ratio=<baseline/engine> target=0.5 mismatches=<n>
  ratio_no_fk=<r> ratio_with_fk_and_history=<r>
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

from tests.benchmarks.common import bench_database, bench_line, django_env, say

TARGET = 0.5
PARTNERS = 1000
CUSTOMERS_PER_PARTNER = 5
LINES_PER_INVOICE = 4
APRIL = (dt.date(2026, 4, 1), dt.date(2026, 4, 30))
MAY = (dt.date(2026, 5, 1), dt.date(2026, 5, 31))

SETUP_SQL = """
INSERT INTO billing_legalentity (code, name, currency, country)
VALUES ('US01', 'Bench Inc', 'USD', 'US');
INSERT INTO billing_financeevent (source, event_id, type, specversion, event_time, entity,
  correlation_id, body, body_digest, state, quarantine_reason, quarantine_detail,
  apply_attempts, result, correction, received_at)
VALUES ('bench', 'bench-1', 'invoice.issued', '1.0', now(), 'US01', '', '{}', '', 'applied',
  '', '', 0, '{}', '{}', now());
INSERT INTO partners_partner (partner_id, name, kind, country, currency, paying_entity_id)
SELECT 'PRT-B-' || g, 'Bench partner ' || g, 'reseller', 'US', 'USD',
  (SELECT id FROM billing_legalentity)
FROM generate_series(1, %(partners)s) g;
INSERT INTO partners_agreement (reference, version, effective_from, currency,
  settlement_period, basis, tier_mode, override_on_children, state, partner_id)
SELECT 'AGR-' || p.partner_id, 1, DATE '2026-01-01', 'USD', 'month', 'invoiced',
  'whole_volume', false, 'active', p.id
FROM partners_partner p WHERE p.partner_id LIKE 'PRT-B-%%';
INSERT INTO partners_commissionrule (code, kind, rate_percent, product_families, countries,
  agreement_id)
SELECT 'net-' || g.id, 'percent_of_net', 5 + (g.id %% 20) * 0.5, '[]', '[]', g.id
FROM partners_agreement g;
INSERT INTO billing_customer (customer_id, name, country, currency, region, tax_id, entity_id)
SELECT 'CUS-B-' || c, 'Bench customer ' || c, 'US', 'USD', '', '',
  (SELECT id FROM billing_legalentity)
FROM generate_series(1, %(customers)s) c;
INSERT INTO partners_attribution (role, valid_from, origin, customer_id, partner_id)
SELECT 'reseller', DATE '2026-01-01', 'console', c.id, p.id
FROM billing_customer c
JOIN partners_partner p
  ON p.partner_id = 'PRT-B-' || ((substr(c.customer_id, 7)::int - 1) / %(per_partner)s + 1);
INSERT INTO billing_invoice (erp_status, erp_document_number, erp_document_id, invoice_id,
  issue_date, due_date, currency, subtotal_amount, tax_amount, total_amount, paid_amount,
  credited_amount, written_off_amount, state, customer_id, event_id, entity_id)
SELECT 'not_sent', '', '', 'INV-B-' || lpad(n::text, 7, '0'), DATE '2026-04-01' + n %% 30,
  DATE '2026-05-01' + n %% 30, 'USD', 0, 0, 0, 0, 0, 0, 'issued',
  (SELECT min(id) FROM billing_customer) + (n * 37) %% %(customers)s,
  (SELECT id FROM billing_financeevent), (SELECT id FROM billing_legalentity)
FROM generate_series(1, %(invoices)s) n;
INSERT INTO billing_invoiceline (line_id, description, product_family, quantity, unit_price,
  amount, tax_code, tax_amount, invoice_id)
SELECT 'L' || k, 'Bench line', 'platform', 1, a.amount, a.amount, '', 0, i.id
FROM billing_invoice i CROSS JOIN generate_series(1, %(per_invoice)s) k
CROSS JOIN LATERAL (SELECT (((i.id * 4 + k) * 7919) %% 99991) / 100.0 + 1 AS amount) a;
UPDATE billing_invoice i SET subtotal_amount = s.total, total_amount = s.total
FROM (SELECT invoice_id, sum(amount) AS total FROM billing_invoiceline GROUP BY invoice_id) s
WHERE s.invoice_id = i.id;
"""

COLUMNS = (
    "partner_id, agreement_id, rule_id, source_kind, source_key, source_ref, customer_id, "
    "invoice_id, payment_id, accrued_on, period_start, period_end, rate, basis_amount, amount, "
    "currency, explanation, clawback_of_id"
)
HISTORY_COLUMNS = f"id, {COLUMNS}"

# The baseline: what a person would write for percent-of-net accruals of one month.
BASELINE_SQL = f"""
INSERT INTO bench_accrual ({COLUMNS})
SELECT g.partner_id, g.id, r.id, 'invoice_line', 'invoice_line:' || l.id,
  i.invoice_id || ' line ' || l.n, i.customer_id, i.id, NULL, i.issue_date,
  %(start)s, %(end)s, r.rate_percent, l.amount, round(r.rate_percent * l.amount / 100, 2),
  i.currency,
  CASE WHEN r.rate_percent = trunc(r.rate_percent) THEN trunc(r.rate_percent)::bigint::text
       ELSE rtrim(r.rate_percent::text, '0') END
  || '%% of ' || to_char(round(l.amount, 2), 'FM999,999,999,999,999,990.00')
  || ' net on ' || i.invoice_id || ' line ' || l.n || ', rule ' || r.code,
  NULL
FROM (SELECT *, row_number() OVER (PARTITION BY invoice_id ORDER BY id) AS n
      FROM billing_invoiceline) l
JOIN billing_invoice i ON i.id = l.invoice_id
JOIN partners_attribution a ON a.customer_id = i.customer_id
  AND a.valid_from <= i.issue_date AND (a.valid_to IS NULL OR a.valid_to > i.issue_date)
JOIN partners_agreement g ON g.partner_id = a.partner_id AND g.state = 'active'
  AND g.basis = 'invoiced' AND g.settlement_period = 'month' AND g.currency = i.currency
  AND g.effective_from <= i.issue_date
  AND (g.effective_to IS NULL OR g.effective_to > i.issue_date)
JOIN partners_commissionrule r ON r.agreement_id = g.id AND r.kind = 'percent_of_net'
WHERE i.issue_date BETWEEN %(start)s AND %(end)s
"""

COMPARE_SQL = """
WITH e AS (SELECT partner_id, count(*) AS n, sum(amount) AS total FROM partners_accrual
           WHERE period_start = %(start)s GROUP BY partner_id),
     b AS (SELECT partner_id, count(*) AS n, sum(amount) AS total FROM bench_accrual
           GROUP BY partner_id)
SELECT count(*) FROM e FULL JOIN b USING (partner_id)
WHERE e.n IS DISTINCT FROM b.n OR e.total IS DISTINCT FROM b.total
"""

ROWS_DIFFER_SQL = """
SELECT count(*) FROM partners_accrual e FULL JOIN bench_accrual b
  ON b.rule_id = e.rule_id AND b.source_key = e.source_key
WHERE (e.id IS NULL AND b.period_start = %(start)s)
   OR (b.id IS NULL AND e.period_start = %(start)s)
   OR (e.id IS NOT NULL AND b.id IS NOT NULL AND (e.amount <> b.amount
       OR e.explanation <> b.explanation OR e.source_ref <> b.source_ref
       OR e.basis_amount <> b.basis_amount OR e.rate <> b.rate
       OR e.accrued_on <> b.accrued_on))
"""


def _setup(connection, lines: int) -> None:
    invoices = max(lines // LINES_PER_INVOICE, 1)
    params = {
        "partners": PARTNERS,
        "customers": PARTNERS * CUSTOMERS_PER_PARTNER,
        "per_partner": CUSTOMERS_PER_PARTNER,
        "invoices": invoices,
        "per_invoice": LINES_PER_INVOICE,
    }
    with connection.cursor() as cursor:
        for statement in SETUP_SQL.split(";\n"):
            if statement.strip():
                cursor.execute(statement, params)


def _mix_setup(connection, lines: int) -> None:
    """Partners with agreements of every rule kind (through the agreement service), their
    customers and May invoices (set-based)."""
    from partners.services.agreements import agreement_create

    tiers = [
        {"lower_amount": "0", "upper_amount": "20000", "rate_percent": "5"},
        {"lower_amount": "20000", "upper_amount": "60000", "rate_percent": "8"},
        {"lower_amount": "60000", "upper_amount": None, "rate_percent": "12"},
    ]
    kinds = {
        "net": ([{"code": "net-10", "kind": "percent_of_net", "rate_percent": "10"}], {}),
        "capped": (
            [
                {"code": "net-15", "kind": "percent_of_net", "rate_percent": "15"},
                {"code": "cap", "kind": "cap", "cap_amount": "5000", "floor_amount": "100"},
            ],
            {},
        ),
        "whole": ([{"code": "tiers", "kind": "tiered", "tiers": tiers}], {}),
        "marginal": (
            [{"code": "tiers-m", "kind": "tiered", "tiers": tiers}],
            {"tier_mode": "marginal"},
        ),
        "unit": (
            [
                {"code": "unit-2", "kind": "per_unit", "unit_amount": "2.50"},
                {"code": "net-3", "kind": "percent_of_net", "rate_percent": "3"},
            ],
            {},
        ),
        "rebate": (
            [
                {"code": "net-5", "kind": "percent_of_net", "rate_percent": "5"},
                {
                    "code": "rebate",
                    "kind": "rebate",
                    "rate_percent": "2",
                    "threshold_amount": "30000",
                },
            ],
            {},
        ),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO partners_partner (partner_id, name, kind, country, currency, "
            "paying_entity_id) SELECT 'PRT-M-DIST', 'Mix distributor', 'distributor', 'US', "
            "'USD', id FROM billing_legalentity"
        )
        names = [f"{kind}-{n}" for kind in kinds for n in range(4)]
        cursor.execute(
            "INSERT INTO partners_partner (partner_id, name, kind, country, currency, "
            "paying_entity_id, parent_id) SELECT 'PRT-M-' || upper(x), 'Mix ' || x, 'reseller', "
            "'US', 'USD', (SELECT id FROM billing_legalentity), "
            "(SELECT id FROM partners_partner WHERE partner_id = 'PRT-M-DIST') "
            "FROM unnest(%s::text[]) x",
            [names],
        )
    start = dt.date(2026, 5, 1)
    agreement_create(
        partner_id="PRT-M-DIST",
        reference="AGR-M-DIST",
        effective_from=start,
        currency="USD",
        settlement_period="month",
        basis="invoiced",
        override_on_children=True,
        rules=[{"code": "override-2", "kind": "percent_of_net", "rate_percent": "2"}],
        actor=None,
    )
    for name in names:
        rules, terms = kinds[name.split("-")[0]]
        agreement_create(
            partner_id=f"PRT-M-{name.upper()}",
            reference=f"AGR-M-{name.upper()}",
            effective_from=start,
            currency="USD",
            settlement_period="month",
            basis="invoiced",
            rules=rules,
            actor=None,
            **terms,
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO billing_customer (customer_id, name, country, currency, region, tax_id, "
            "entity_id) SELECT 'CUS-M-' || p.partner_id, 'Mix customer', 'US', 'USD', '', '', "
            "p.paying_entity_id FROM partners_partner p WHERE p.partner_id LIKE 'PRT-M-%%' "
            "AND p.kind = 'reseller'"
        )
        cursor.execute(
            "INSERT INTO partners_attribution (role, valid_from, origin, customer_id, partner_id) "
            "SELECT 'reseller', DATE '2026-01-01', 'console', c.id, p.id FROM billing_customer c "
            "JOIN partners_partner p ON c.customer_id = 'CUS-M-' || p.partner_id"
        )
        cursor.execute(
            "INSERT INTO billing_invoice (erp_status, erp_document_number, erp_document_id, "
            "invoice_id, issue_date, due_date, currency, subtotal_amount, tax_amount, "
            "total_amount, paid_amount, credited_amount, written_off_amount, state, customer_id, "
            "event_id, entity_id) SELECT 'not_sent', '', '', 'INV-M-' || lpad(n::text, 7, '0'), "
            "DATE '2026-05-01' + n %% 31, DATE '2026-06-01', 'USD', 0, 0, 0, 0, 0, 0, 'issued', "
            "c.id, (SELECT id FROM billing_financeevent), c.entity_id "
            "FROM generate_series(1, %s) n JOIN (SELECT id, entity_id, row_number() OVER "
            "(ORDER BY id) - 1 AS k FROM billing_customer WHERE customer_id LIKE 'CUS-M-%%') c "
            "ON c.k = n %% %s",
            [max(lines // LINES_PER_INVOICE, 1), len(names)],
        )
        cursor.execute(
            "INSERT INTO billing_invoiceline (line_id, description, product_family, quantity, "
            "unit_price, amount, tax_code, tax_amount, invoice_id) SELECT 'L' || k, 'Mix line', "
            "'platform', 1 + (i.id + k) %% 3, a.amount, a.amount, '', 0, i.id "
            "FROM billing_invoice i CROSS JOIN generate_series(1, %s) k "
            "CROSS JOIN LATERAL (SELECT (((i.id * 4 + k) * 7919) %% 99991) / 100.0 + 1 "
            "AS amount) a "
            "WHERE i.invoice_id LIKE 'INV-M-%%'",
            [LINES_PER_INVOICE],
        )
        cursor.execute(
            "UPDATE billing_invoice i SET subtotal_amount = s.total, total_amount = s.total "
            "FROM (SELECT invoice_id, sum(amount) AS total FROM billing_invoiceline "
            "GROUP BY invoice_id) s WHERE s.invoice_id = i.id AND i.invoice_id LIKE 'INV-M-%%'"
        )


def _vacuum(database) -> None:
    with database.connect(autocommit=True) as admin:
        admin.execute("VACUUM ANALYZE")


def _engine(window) -> tuple[float, object]:
    from partners.services.engine import accruals_recompute

    clock = time.monotonic()
    count = accruals_recompute(period_start=window[0], period_end=window[1], actor=None)
    return time.monotonic() - clock, count


def _baseline(database, *, table: str, foreign_keys: bool, history: bool = False) -> float:
    """The baseline statement into `table`, a `LIKE partners_accrual INCLUDING ALL` copy
    (same columns, defaults, CHECKs and indexes), with partners_accrual's foreign keys when
    `foreign_keys` (as Django declares them: deferred, checked at commit) and also writing
    the same "+" rows into a copy of partners_historicalaccrual when `history`. Timed: the
    statement and its commit, as the engine's time includes its commit."""
    select = BASELINE_SQL.split("\n", 2)[2]
    with database.connect(autocommit=True) as admin:
        admin.execute(f"DROP TABLE IF EXISTS {table}, {table}_history")
        admin.execute(f"CREATE TABLE {table} (LIKE partners_accrual INCLUDING ALL)")
        if foreign_keys:
            fks = admin.execute(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'partners_accrual'::regclass AND contype = 'f'"
            ).fetchall()
            for (definition,) in fks:
                admin.execute(f"ALTER TABLE {table} ADD {definition}")
        if history:
            admin.execute(
                f"CREATE TABLE {table}_history (LIKE partners_historicalaccrual INCLUDING ALL)"
            )
    if history:
        statement = (
            f"WITH ins AS (INSERT INTO {table} ({COLUMNS}) {select} RETURNING *) "
            f"INSERT INTO {table}_history ({HISTORY_COLUMNS}, history_date, "
            "history_change_reason, history_type, history_user_id, correlation_id) "
            f"SELECT {HISTORY_COLUMNS}, now(), 'baseline', '+', NULL, '' FROM ins"
        )
    else:
        statement = f"INSERT INTO {table} ({COLUMNS}) {select}"
    with database.connect() as conn:
        clock = time.monotonic()
        conn.execute(statement, {"start": APRIL[0], "end": APRIL[1]})
        conn.commit()
        return time.monotonic() - clock


def _scalar(connection, sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.fetchone()[0]


def main() -> int:
    from tests.benchmarks.common import scale

    lines = max(int(1_000_000 * scale()), 1000)
    mix_lines = max(int(100_000 * scale()), 1000)
    say(f"accruals: {lines} invoice lines, {PARTNERS} partners (percent of net); mix {mix_lines}")
    with bench_database() as database:
        os.environ.update(django_env(database.url))
        import django

        django.setup()
        from django.db import connection, transaction

        clock = time.monotonic()
        with transaction.atomic():
            _setup(connection, lines)
            _mix_setup(connection, mix_lines)
        _vacuum(database)
        say(f"  set-up: {time.monotonic() - clock:.1f} s (not timed)")

        engine_s, count = _engine(APRIL)
        say(f"  engine: {engine_s:.2f} s ({count})")
        again_s, again = _engine(APRIL)
        say(f"  engine again (idempotent): {again_s:.2f} s ({again})")
        baseline_s = _baseline(database, table="bench_accrual", foreign_keys=True)
        say(f"  baseline INSERT ... SELECT, with the foreign keys: {baseline_s:.2f} s")
        no_fk_s = _baseline(database, table="bench_accrual_no_fk", foreign_keys=False)
        say(
            f"  the same without the foreign keys: {no_fk_s:.2f} s (ratio to the engine "
            f"{no_fk_s / engine_s:.3f})"
        )
        full_s = _baseline(database, table="bench_accrual_full", foreign_keys=True, history=True)
        say(
            f"  the same with the foreign keys and the history rows: {full_s:.2f} s"
            f" (ratio to the engine {full_s / engine_s:.3f})"
        )
        window = {"start": APRIL[0], "end": APRIL[1]}
        stored = _scalar(connection, "SELECT count(*) FROM partners_accrual")
        baseline_rows = _scalar(connection, "SELECT count(*) FROM bench_accrual")
        mismatches = _scalar(connection, COMPARE_SQL, window)
        rows_differ = _scalar(connection, ROWS_DIFFER_SQL, window)
        say(
            f"  rows: engine {stored}, baseline {baseline_rows}; partners whose count or "
            f"total differ: {mismatches}; rows differing: {rows_differ}"
        )
        _vacuum(database)
        mix_s, mix = _engine(MAY)
        say(f"  mix of every rule kind, {mix_lines} lines in May: {mix_s:.2f} s ({mix})")
        kinds = _scalar(
            connection,
            "SELECT string_agg(DISTINCT r.kind || '/' || a.source_kind, ' ') "
            "FROM partners_accrual a JOIN partners_commissionrule r ON r.id = a.rule_id "
            "WHERE a.period_start = %(s)s",
            {"s": MAY[0]},
        )
        say(f"  mix accruals by rule kind/source: {kinds}")
        from django.db import connections

        connections.close_all()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    say(f"  load average after the run (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    idempotent = again.created == again.updated == again.deleted == 0
    if not idempotent:
        say("  FAILED: the second recompute wrote rows")
    bench_line(
        "accruals",
        round(engine_s, 2),
        "s",
        ratio=baseline_s / engine_s,
        target=TARGET,
        mismatches=mismatches,
        ratio_no_fk=f"{no_fk_s / engine_s:.3f}",
        ratio_with_fk_and_history=f"{full_s / engine_s:.3f}",
    )
    return 1 if mismatches or rows_differ or not idempotent or stored != baseline_rows else 0


if __name__ == "__main__":
    sys.exit(main())
