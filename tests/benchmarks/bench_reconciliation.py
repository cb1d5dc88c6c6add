"""Reconciliation benchmark: the matching engine against one hand-written FULL OUTER JOIN.

`python -m tests.benchmarks.bench_reconciliation` (or `make bench BENCH=reconciliation`). On
a fresh PostgreSQL database:

1. Set-up, not timed, written set-based straight into the tables (generate_series): one
   legal entity with a sandbox connection, one run of the documents scope for May 2026 in
   state running, and its snapshot: N = 1,000,000 x BENCH_SCALE billing rows (70% invoices,
   credit notes, payments; 100,000 x BENCH_SCALE parties) and about as many ERP rows, the
   ERP's copy of each billing document, with defects every 701 documents, one of each kind:
   missing in the ERP, amount +0.50, currency EUR, tax +1.00, status (settled in billing,
   open in the ERP), a second ERP row with the same external id (duplicate), an ERP row
   billing does not know (missing in billing); and a rounding difference of 0.01 (inside the
   tolerance: no break). About 1% of the documents carry a defect. VACUUM ANALYZE (what
   `run_execute` does once the snapshot is stored: `engine_sql.analyze("bill", "erp")`).
2. Measured: `reconciliation.services.runs.run_match`, the engine part of `run_execute`
   (every match rule in order, then the classification that returns the break findings),
   in one transaction, commit included. Not measured: the ERP listing through the adapter
   and the billing snapshot (both stored by the set-up, as `run_execute` stores them before
   it matches), and writing the findings as Break rows with their cases (`breaks_record`;
   timed on its own and printed, not in the ratio).
3. Baseline, same run: one hand-written INSERT ... SELECT over a FULL OUTER JOIN of the two
   snapshot sides on the external id, writing the same break rows (kind, key, both sides'
   values, the difference) into `LIKE reconciliation_break INCLUDING ALL`.
   ratio = baseline time / engine time.
4. Check: the symmetric difference of the two break sets compared by (kind, document key,
   both sides' totals and taxes) must be empty (`differences`).

Last line: BENCH reconciliation <s> s ratio=<baseline/engine> target=0.5 differences=<n>
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

from tests.benchmarks.common import bench_database, bench_line, django_env, say

TARGET = 0.5
DEFECT_EVERY = 701  # a prime, so the defects fall on every document kind
PERIOD = (dt.date(2026, 5, 1), dt.date(2026, 5, 31))

# One billing document per n: kind by n % 10, amounts pseudo-random, external id a 32-hex
# digest (the real ones are 40), the ERP number billing recorded (none when never posted).
BILLING_SQL = """
INSERT INTO reconciliation_billingsnapshotrow (run_id, kind, external_id, number, party_code,
  currency, net_amount, tax_amount, total_amount, status, document_date, record_id,
  erp_number, tolerance_amount)
SELECT %(run)s, d.kind, md5('doc-' || n), upper(left(d.kind, 3)) || '-' || lpad(n::text, 8, '0'),
  'cus_' || (n %% %(parties)s), 'USD', d.net, d.tax, d.net + d.tax,
  CASE WHEN d.kind <> 'invoice' THEN ''
       WHEN n %% %(every)s = 400 OR n %% 3 = 0 THEN 'settled' ELSE 'open' END,
  DATE '2026-05-01' + (n %% 31)::int, n,
  CASE WHEN n %% %(every)s = 0 THEN '' ELSE 'ERP-' || lpad(n::text, 8, '0') END, 0.01
FROM generate_series(1::bigint, %(n)s::bigint) n
CROSS JOIN LATERAL (SELECT
  CASE n %% 10 WHEN 7 THEN 'payment' WHEN 8 THEN 'credit_note' ELSE 'invoice' END AS kind,
  ((n * 7919) %% 99991) / 100.0 + 1 AS net,
  CASE WHEN n %% 10 = 7 THEN 0 ELSE round((((n * 7919) %% 99991) / 100.0 + 1) * 0.08, 2)
  END AS tax) d
"""

# What the ERP lists: each billing document as posted, altered where n carries a defect,
# minus the ones never posted; plus a duplicate and an unknown document per defect cycle.
ERP_SQL = """
INSERT INTO reconciliation_erpsnapshotrow (run_id, kind, external_id, number, party_code,
  currency, net_amount, tax_amount, total_amount, status, document_date, reference,
  parent_external_id, state)
SELECT b.run_id, b.kind, b.external_id, b.erp_number, b.party_code,
  CASE WHEN b.record_id %% %(every)s = 200 THEN 'EUR' ELSE b.currency END,
  b.net_amount + a.extra, b.tax_amount + a.tax_extra, b.total_amount + a.extra,
  CASE WHEN b.kind <> 'invoice' THEN ''
       WHEN b.record_id %% %(every)s = 400 THEN 'open' ELSE b.status END,
  b.document_date, b.number, '', ''
FROM reconciliation_billingsnapshotrow b
CROSS JOIN LATERAL (SELECT
  CASE b.record_id %% %(every)s WHEN 100 THEN 0.50 WHEN 50 THEN 0.01 ELSE 0 END AS extra,
  CASE b.record_id %% %(every)s WHEN 300 THEN 1.00 ELSE 0 END AS tax_extra) a
WHERE b.run_id = %(run)s AND b.record_id %% %(every)s <> 0
UNION ALL
SELECT b.run_id, b.kind, b.external_id, 'ERP-D-' || b.record_id, b.party_code, b.currency,
  b.net_amount, b.tax_amount, b.total_amount, b.status, b.document_date, b.number, '', ''
FROM reconciliation_billingsnapshotrow b
WHERE b.run_id = %(run)s AND b.record_id %% %(every)s = 500
UNION ALL
SELECT b.run_id, 'invoice', md5('erp-only-' || b.record_id), 'ERP-X-' || b.record_id,
  'stranger_' || b.record_id, 'USD', 75, 0, 75, 'open', b.document_date, '', '', ''
FROM reconciliation_billingsnapshotrow b
WHERE b.run_id = %(run)s AND b.record_id %% %(every)s = 600
"""

BREAK_COLUMNS = (
    "entity_id, period_start, period_end, scope, kind, key, state, party_code, document_date, "
    "billing_kind, billing_number, billing_currency, billing_total_amount, billing_tax_amount, "
    "billing_status, erp_external_id, erp_number, erp_currency, erp_total_amount, "
    "erp_tax_amount, erp_status, difference_amount, difference_currency, note, "
    "first_seen_run_id, last_seen_run_id"
)

# The baseline: what a person would write. The ERP rows are numbered per external id; the
# first of each is joined to billing's row of that external id, the others are duplicates.
BASELINE_SQL = f"""
INSERT INTO bench_break ({BREAK_COLUMNS})
SELECT %(entity)s, %(start)s, %(end)s, 'documents', k.kind,
  k.kind || '|' || CASE WHEN b.id IS NULL THEN 'erp:' || e.external_id || '|' || e.number
                        ELSE b.kind || ':' || b.number END,
  'open', COALESCE(b.party_code, e.party_code), COALESCE(b.document_date, e.document_date),
  COALESCE(b.kind, ''), COALESCE(b.number, ''), COALESCE(b.currency, ''), b.total_amount,
  b.tax_amount, COALESCE(b.status, ''), COALESCE(e.external_id, ''), COALESCE(e.number, ''),
  COALESCE(e.currency, ''), e.total_amount, e.tax_amount, COALESCE(e.status, ''),
  CASE k.kind WHEN 'currency_mismatch' THEN NULL
              WHEN 'tax_mismatch' THEN e.tax_amount - b.tax_amount
              ELSE COALESCE(e.total_amount, 0) - COALESCE(b.total_amount, 0) END,
  CASE WHEN k.kind = 'currency_mismatch' THEN '' ELSE COALESCE(b.currency, e.currency) END,
  '', %(run)s, %(run)s
FROM (SELECT *, 1 AS first FROM reconciliation_billingsnapshotrow WHERE run_id = %(run)s) b
FULL OUTER JOIN (
  SELECT *, row_number() OVER (PARTITION BY external_id ORDER BY id) AS nth
  FROM reconciliation_erpsnapshotrow WHERE run_id = %(run)s) e
  ON e.external_id = b.external_id AND e.nth = b.first
CROSS JOIN LATERAL (VALUES
  ('missing_in_erp', e.id IS NULL),
  ('missing_in_billing', b.id IS NULL AND e.nth = 1),
  ('duplicate_in_erp', b.id IS NULL AND e.nth > 1),
  ('currency_mismatch', b.currency <> e.currency),
  ('amount_mismatch', b.currency = e.currency
     AND round(abs(e.total_amount - b.total_amount), 4) > b.tolerance_amount),
  ('tax_mismatch', b.currency = e.currency
     AND round(abs(e.tax_amount - b.tax_amount), 4) > b.tolerance_amount),
  ('status_mismatch', b.status <> '' AND e.status <> '' AND b.status <> e.status)
) k(kind, found)
WHERE k.found
"""

# The engine's findings as the same comparable values (after the clock stopped).
ENGINE_ROWS_SQL = """
INSERT INTO bench_engine_break (kind, key, billing_total, billing_tax, erp_total, erp_tax)
SELECT f.kind,
  CASE WHEN b.id IS NULL THEN 'erp:' || e.external_id || '|' || e.number
       ELSE b.kind || ':' || b.number END,
  b.total_amount, b.tax_amount, e.total_amount, e.tax_amount
FROM unnest(%(kinds)s::text[], %(b_ids)s::bigint[], %(e_ids)s::bigint[]) f(kind, b_id, e_id)
LEFT JOIN reconciliation_billingsnapshotrow b ON b.id = f.b_id
LEFT JOIN reconciliation_erpsnapshotrow e ON e.id = f.e_id
"""

COMPARABLE = (
    "SELECT kind, split_part(key, '|', 2) || CASE WHEN kind IN ('missing_in_billing', "
    "'duplicate_in_erp') THEN '|' || split_part(key, '|', 3) ELSE '' END AS key, "
    "billing_total_amount AS billing_total, billing_tax_amount AS billing_tax, "
    "erp_total_amount AS erp_total, erp_tax_amount AS erp_tax FROM bench_break"
)
ENGINE = "SELECT kind, key, billing_total, billing_tax, erp_total, erp_tax FROM bench_engine_break"
DIFFERENCES_SQL = (
    f"SELECT (SELECT count(*) FROM (({ENGINE}) EXCEPT ALL ({COMPARABLE})) x) "
    f"+ (SELECT count(*) FROM (({COMPARABLE}) EXCEPT ALL ({ENGINE})) y)"
)


def _setup(connection, documents: int) -> int:
    """The entity, connection, run and both snapshot sides; returns the run's id."""
    from billing.models import LegalEntity
    from erp_sync.models import Connection
    from reconciliation.models import ReconciliationRun

    entity = LegalEntity.objects.create(code="US01", name="Bench Inc", currency="USD")
    erp = Connection.objects.create(name="bench-sandbox", entity=entity, adapter_kind="sandbox")
    run = ReconciliationRun.objects.create(
        entity=entity, connection=erp, period_start=PERIOD[0], period_end=PERIOD[1]
    )
    ReconciliationRun.objects.filter(pk=run.pk).update(state="running", progress_step="matching")
    params = {
        "run": run.pk,
        "n": documents,
        "parties": max(documents // 10, 1),
        "every": DEFECT_EVERY,
    }
    with connection.cursor() as cursor:
        cursor.execute(BILLING_SQL, params)
        cursor.execute(ERP_SQL, params)
    return run.pk


def _engine(run_id: int) -> tuple[float, float, dict, list]:
    """The engine's time, commit included, and the commit's part of it."""
    from django.db import transaction

    from reconciliation.services.runs import run_match

    clock = time.monotonic()
    with transaction.atomic():
        written, findings = run_match(run_id)
        committing = time.monotonic()
    done = time.monotonic()
    return done - clock, done - committing, written, findings


def _baseline(connection, run_id: int, entity_id: int) -> float:
    params = {"run": run_id, "entity": entity_id, "start": PERIOD[0], "end": PERIOD[1]}
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_break")
        cursor.execute("CREATE TABLE bench_break (LIKE reconciliation_break INCLUDING ALL)")
    clock = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute(BASELINE_SQL, params)
    return time.monotonic() - clock


# The pairs the baseline's join finds, written as match rows: what the engine also writes
# (one Match row per pair, to explain each) and a bare comparison does not.
PAIRS_SQL = """
INSERT INTO bench_match (run_id, billing_row_id, erp_row_id, rule, status, decided_by_id,
  decided_at, decision_note)
SELECT %(run)s, b.id, e.id, 'external_id', 'matched', NULL, NULL, ''
FROM reconciliation_billingsnapshotrow b
JOIN (SELECT id, external_id, row_number() OVER (PARTITION BY external_id ORDER BY id) AS nth
      FROM reconciliation_erpsnapshotrow WHERE run_id = %(run)s) e
  ON e.external_id = b.external_id AND e.nth = 1
WHERE b.run_id = %(run)s
"""


def _baseline_with_matches(database, run_id: int) -> float:
    """The baseline's pairs as rows of a copy of reconciliation_match with its indexes and
    foreign-key constraints (the match keys have none since reconciliation.0003; decided_by
    keeps its one), commit included."""
    with database.connect(autocommit=True) as admin:
        admin.execute("DROP TABLE IF EXISTS bench_match")
        admin.execute("CREATE TABLE bench_match (LIKE reconciliation_match INCLUDING ALL)")
        fks = admin.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'reconciliation_match'::regclass AND contype = 'f'"
        ).fetchall()
        for (definition,) in fks:
            admin.execute(f"ALTER TABLE bench_match ADD {definition}")
        admin.execute("ANALYZE bench_match")
    with database.connect() as conn:
        clock = time.monotonic()
        conn.execute(PAIRS_SQL, {"run": run_id})
        conn.commit()
        return time.monotonic() - clock


def _scalar(connection, sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params or {})
        return cursor.fetchone()[0]


def _differences(connection, findings: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_engine_break (kind text, key text, billing_total numeric, "
            "billing_tax numeric, erp_total numeric, erp_tax numeric)"
        )
        cursor.execute(
            ENGINE_ROWS_SQL,
            {
                "kinds": [kind for kind, _, _ in findings],
                "b_ids": [b for _, b, _ in findings],
                "e_ids": [e for _, _, e in findings],
            },
        )
    return _scalar(connection, DIFFERENCES_SQL)


def _record(run_id: int, findings: list) -> tuple[float, int]:
    """breaks_record as run_execute calls it (Break rows, history, cases): not in the ratio."""
    from django.db import transaction

    from reconciliation.models import ReconciliationRun
    from reconciliation.services.breaks import breaks_record

    clock = time.monotonic()
    with transaction.atomic():
        run = ReconciliationRun.objects.select_related("entity").get(pk=run_id)
        count = breaks_record(run=run, findings=findings, actor=None)
    return time.monotonic() - clock, count


def _by_kind(connection, table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT kind, count(*) FROM {table} GROUP BY kind ORDER BY kind")
        return ", ".join(f"{kind} {count}" for kind, count in cursor.fetchall())


def main() -> int:
    from tests.benchmarks.common import scale

    documents = max(int(1_000_000 * scale()), 7 * DEFECT_EVERY)
    say(f"reconciliation: {documents} billing documents against the ERP's listing of them")
    with bench_database() as database:
        os.environ.update(django_env(database.url))
        import django

        django.setup()
        from django.db import connection, transaction

        clock = time.monotonic()
        with transaction.atomic():
            run_id = _setup(connection, documents)
        with database.connect(autocommit=True) as admin:
            admin.execute("VACUUM ANALYZE")
        erp_rows = _scalar(connection, "SELECT count(*) FROM reconciliation_erpsnapshotrow")
        say(f"  set-up: {time.monotonic() - clock:.1f} s (not timed); ERP rows {erp_rows}")

        engine_s, commit_s, written, findings = _engine(run_id)
        say(
            f"  engine (run_match: every rule, then the classification): {engine_s:.2f} s, "
            f"of which the commit {commit_s:.2f} s"
        )
        say(f"    matches written per rule: {written}; findings: {len(findings)}")
        entity_id = _scalar(connection, "SELECT id FROM billing_legalentity")
        baseline_s = _baseline(connection, run_id, entity_id)
        say(f"  baseline FULL OUTER JOIN into LIKE reconciliation_break: {baseline_s:.2f} s")
        pairs_s = _baseline_with_matches(database, run_id)
        say(
            f"  the baseline's pairs as match rows (LIKE reconciliation_match with its foreign "
            f"keys, commit included): {pairs_s:.2f} s; with the breaks statement "
            f"{baseline_s + pairs_s:.2f} s (ratio to the engine "
            f"{(baseline_s + pairs_s) / engine_s:.3f})"
        )
        differences = _differences(connection, findings)
        say(f"  engine breaks by kind:   {_by_kind(connection, 'bench_engine_break')}")
        say(f"  baseline breaks by kind: {_by_kind(connection, 'bench_break')}")
        say(f"  symmetric difference of the two break sets: {differences}")
        if os.environ.get("BENCH_RECORD", "1" if documents <= 100_000 else "0") == "1":
            record_s, recorded = _record(run_id, findings)
            say(
                f"  recording them as breaks with their cases (breaks_record, not in the "
                f"ratio): {record_s:.2f} s for {recorded} breaks"
            )
        from django.db import connections

        connections.close_all()
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    say(f"  load average after the run (1, 5, 15 min): {load} on {os.cpu_count()} CPUs")
    say(f"  engine {engine_s:.2f} s, baseline {baseline_s:.2f} s")
    say(f"  ratio_with_match_rows={(baseline_s + pairs_s) / engine_s:.3f}")
    bench_line(
        "reconciliation",
        round(engine_s, 2),
        "s",
        ratio=baseline_s / engine_s,
        target=TARGET,
        differences=differences,
    )
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
