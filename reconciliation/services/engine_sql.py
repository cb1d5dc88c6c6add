"""The matching engine: set-based SQL over one run's billing and ERP snapshot rows.

Every statement works on whole sets (no loop over documents) and runs on PostgreSQL and
SQLite with the same answer: differences are rounded to AMOUNT_DECIMAL_PLACES before they
are compared (SQLite keeps decimals as floats), and the one vendor difference, days between
two dates, is `_days_between`. Table and foreign-key column names come from the models'
_meta; the other columns are the fields' names (`_names` refuses a db_column override).

Rules, in order, each writing Match rows with its reason code; a row paired by one rule is
not looked at by the next:
1. external_id: billing row ↔ the lowest-id ERP row listing the same external id;
2. document_number: the ERP number billing recorded when it posted ↔ the ERP row with that
   number, only where each side has exactly one candidate;
3. summary_1n: an ERP row of kind "summary" covers every still-unpaired invoice of its party
   and currency when their totals add up to its total within tolerance (and it is the only
   summary of that party and currency in the run);
(confirmed) a pair a person confirmed in an earlier run of the same entity, period and scope,
   found again by its two sides' keys (1:1 only);
4. suggested: same kind, party and currency, total within tolerance, dates within the window:
   written as suggestions only; they pair nothing until a person confirms them.
Then `breaks_found` classifies what is paired but differs and what is unpaired.
"""

# ruff: noqa: S608 -- every statement here is built from _meta names and fixed fragments;
# values only ever travel as parameters.
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from django.db import connection

from config.money import AMOUNT_DECIMAL_PLACES
from reconciliation.choices import (
    DOCUMENT_SCOPE_KINDS,
    PAIRED_STATUSES,
    SUMMARY_KIND,
    BreakKind,
    MatchRule,
    MatchStatus,
)
from reconciliation.models import BillingSnapshotRow, ErpSnapshotRow, Match, ReconciliationRun

# ERP kinds the documents scope compares (settlements belong to the partners scope).
ERP_KINDS = (*DOCUMENT_SCOPE_KINDS, SUMMARY_KIND)
PLACES = AMOUNT_DECIMAL_PLACES


@cache
def _names() -> dict[str, str]:
    """Quoted table names and foreign-key columns, from _meta."""
    qn = connection.ops.quote_name
    for model in (BillingSnapshotRow, ErpSnapshotRow, Match, ReconciliationRun):
        for field in model._meta.concrete_fields:
            if not field.is_relation and field.column != field.name:
                raise ValueError(f"{model.__name__}.{field.name}: db_column is not supported")
    return {
        "bill": qn(BillingSnapshotRow._meta.db_table),
        "erp": qn(ErpSnapshotRow._meta.db_table),
        "match": qn(Match._meta.db_table),
        "run": qn(ReconciliationRun._meta.db_table),
        "run_id": qn(Match._meta.get_field("run").column),
        "billing_row_id": qn(Match._meta.get_field("billing_row").column),
        "erp_row_id": qn(Match._meta.get_field("erp_row").column),
        "decided_by_id": qn(Match._meta.get_field("decided_by").column),
        "entity_id": qn(ReconciliationRun._meta.get_field("entity").column),
    }


def _sql(template: str) -> str:
    return template.format(**_names())


def _in(values: Sequence[str]) -> str:
    return ", ".join(["%s"] * len(values))


def _days_between(later: str, earlier: str) -> str:
    """SQL for the number of days from `earlier` to `later` (two date columns)."""
    if connection.vendor == "postgresql":
        return f"({later} - {earlier})"
    return f"(julianday({later}) - julianday({earlier}))"


def _execute(sql: str, params: Sequence) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return cursor.rowcount


_INSERT = (
    "INSERT INTO {match} ({run_id}, {billing_row_id}, {erp_row_id}, rule, status, "
    "{decided_by_id}, decided_at, decision_note) "
)
# "b has no match yet" / "e has no match yet", for the rules before suggestions. The run
# first: the pair constraint (run, billing row, ERP row) is the billing row's index.
_B_FREE = (
    "NOT EXISTS (SELECT 1 FROM {match} m WHERE m.{run_id} = b.{run_id} "
    "AND m.{billing_row_id} = b.id)"
)
_E_FREE = "NOT EXISTS (SELECT 1 FROM {match} m WHERE m.{erp_row_id} = e.id)"


def match_external_id(run_id: int) -> int:
    # Rule 1: each billing row to the lowest-id ERP row with its external id (a second ERP row
    # with that id stays unpaired and is classified a duplicate).
    # Written in billing-row order: the pair constraint (run, billing row, ERP row) and the
    # ERP-row index then grow at their right edge instead of at a random leaf per row (the
    # hash aggregate's order). 998,574 pairs: 76.9 s → 34.8 s, 9.0M → 5.4M buffer touches,
    # 5,906 → 10 full-page WAL images (EXPLAIN ANALYZE, same load ~11, 2026-12-07).
    sql = _sql(
        _INSERT + "SELECT b.{run_id}, b.id, MIN(e.id), %s, %s, NULL, NULL, '' "
        "FROM {bill} b JOIN {erp} e ON e.{run_id} = b.{run_id} AND e.external_id = b.external_id "
        "WHERE b.{run_id} = %s AND b.external_id <> '' "
        f"AND e.kind IN ({_in(DOCUMENT_SCOPE_KINDS)}) GROUP BY b.{{run_id}}, b.id ORDER BY b.id"
    )
    params = [MatchRule.EXTERNAL_ID, MatchStatus.MATCHED, run_id, *DOCUMENT_SCOPE_KINDS]
    return _execute(sql, params)


def match_document_number(run_id: int) -> int:
    # Rule 2: unpaired rows whose recorded ERP number is recorded by no other billing row and
    # names exactly one ERP row (of any kind) of the run. Joins on grouped sets, not
    # correlated counts: those made the planner expect one row and loop (44 s for 20,000).
    # The unpaired billing rows first, behind a fence: otherwise PostgreSQL joined every
    # billing row to its ERP row and only then probed the match table per row (4.2 of the
    # 25 s of a 100,000-row run, measured 2026-12-07).
    unpaired = (
        "SELECT b.id, b.{run_id}, b.erp_number FROM {bill} b "
        "WHERE b.{run_id} = %s AND b.erp_number <> '' AND " + _B_FREE + _fence()
    )
    sql = _sql(
        _INSERT + f"SELECT %s, b.id, e.id, %s, %s, NULL, NULL, '' FROM ({unpaired}) b "
        "JOIN (SELECT erp_number FROM {bill} WHERE {run_id} = %s AND erp_number <> '' "
        "GROUP BY erp_number HAVING COUNT(*) = 1) ub ON ub.erp_number = b.erp_number "
        "JOIN {erp} e ON e.{run_id} = b.{run_id} AND e.number = b.erp_number "
        "JOIN (SELECT number FROM {erp} WHERE {run_id} = %s "
        "GROUP BY number HAVING COUNT(*) = 1) ue ON ue.number = e.number "
        f"WHERE e.kind IN ({_in(DOCUMENT_SCOPE_KINDS)}) AND {_E_FREE}"
    )
    params = [run_id, MatchRule.DOCUMENT_NUMBER, MatchStatus.MATCHED, run_id, run_id, run_id]
    return _execute(sql, [*params, *DOCUMENT_SCOPE_KINDS])


def match_summary(run_id: int) -> int:
    # Rule 3: the only summary row of a party and currency takes every unpaired invoice of
    # that party and currency whose totals add up to its total within tolerance.
    summaries = (
        "SELECT e.id AS e_id, e.party_code, e.currency, e.total_amount FROM {erp} e "
        "WHERE e.{run_id} = %s AND e.kind = %s AND e.party_code <> '' AND " + _E_FREE + " AND "
        "NOT EXISTS (SELECT 1 FROM {erp} o WHERE o.{run_id} = e.{run_id} AND o.kind = e.kind "
        "AND o.party_code = e.party_code AND o.currency = e.currency AND o.id <> e.id)"
    )
    invoices = (
        "SELECT b.id AS b_id, b.party_code, b.currency, b.total_amount, b.tolerance_amount "
        "FROM {bill} b WHERE b.{run_id} = %s AND b.kind = 'invoice' AND " + _B_FREE
    )
    sql = _sql(
        _INSERT + "SELECT %s, o.b_id, s.e_id, %s, %s, NULL, NULL, '' "
        f"FROM ({summaries}) s JOIN ({invoices}) o "
        "ON o.party_code = s.party_code AND o.currency = s.currency "
        f"WHERE s.e_id IN (SELECT s2.e_id FROM ({summaries}) s2 JOIN ({invoices}) o2 "
        "ON o2.party_code = s2.party_code AND o2.currency = s2.currency "
        "GROUP BY s2.e_id, s2.total_amount "
        f"HAVING ROUND(ABS(SUM(o2.total_amount) - s2.total_amount), {PLACES}) "
        "<= MAX(o2.tolerance_amount))"
    )
    both = [run_id, SUMMARY_KIND, run_id]
    return _execute(sql, [run_id, MatchRule.SUMMARY_1N, MatchStatus.MATCHED, *both, *both])


# Earlier runs of the run's entity, period and scope: `pr` joined to the current run `r`.
_EARLIER_RUNS = (
    "JOIN {run} pr ON pr.id = pm.{run_id} JOIN {run} r ON r.id = %s AND pr.id <> r.id "
    "AND pr.{entity_id} = r.{entity_id} AND pr.period_start = r.period_start "
    "AND pr.period_end = r.period_end AND pr.scope = r.scope "
    "JOIN {bill} pb ON pb.id = pm.{billing_row_id} JOIN {erp} pe ON pe.id = pm.{erp_row_id} "
)


def match_confirmed(run_id: int) -> int:
    # Pairs a person confirmed in an earlier run, found again by both sides' keys, 1:1 only.
    candidates = (
        "SELECT b.id AS b_id, e.id AS e_id, MIN(pm.id) AS pm_id FROM {match} pm "
        + _EARLIER_RUNS
        + "JOIN {bill} b ON b.{run_id} = r.id AND b.kind = pb.kind AND b.number = pb.number "
        "JOIN {erp} e ON e.{run_id} = r.id AND e.external_id = pe.external_id "
        "AND e.number = pe.number "
        f"WHERE pm.status = %s AND {_B_FREE} AND {_E_FREE} GROUP BY b.id, e.id"
    )
    sql = _sql(
        _INSERT + "SELECT %s, c.b_id, c.e_id, %s, %s, pm.{decided_by_id}, pm.decided_at, "
        f"pm.decision_note FROM ({candidates}) c JOIN {{match}} pm ON pm.id = c.pm_id "
        f"WHERE c.b_id IN (SELECT b_id FROM ({candidates}) c1 GROUP BY b_id HAVING COUNT(*) = 1) "
        f"AND c.e_id IN (SELECT e_id FROM ({candidates}) c2 GROUP BY e_id HAVING COUNT(*) = 1)"
    )
    each = [run_id, MatchStatus.CONFIRMED]
    params = [run_id, MatchRule.SUGGESTED, MatchStatus.CONFIRMED, *each, *each, *each]
    return _execute(sql, params)


def match_suggested(run_id: int, *, window_days: int) -> int:
    # Rule 4: every unpaired pair of the same kind, party and currency, total within
    # tolerance and dates within the window, unless a person rejected that pair before.
    rejected = (
        "SELECT 1 FROM {match} pm "
        + _EARLIER_RUNS
        + "WHERE pm.status = %s AND pb.kind = b.kind AND pb.number = b.number "
        "AND pe.external_id = e.external_id AND pe.number = e.number"
    )
    days = _days_between("e.document_date", "b.document_date")
    sql = _sql(
        _INSERT + "SELECT b.{run_id}, b.id, e.id, %s, %s, NULL, NULL, '' FROM {bill} b "
        "JOIN {erp} e ON e.{run_id} = b.{run_id} AND e.kind = b.kind "
        "AND e.party_code = b.party_code AND e.currency = b.currency "
        "WHERE b.{run_id} = %s AND b.party_code <> '' "
        f"AND ROUND(ABS(e.total_amount - b.total_amount), {PLACES}) <= b.tolerance_amount "
        f"AND ABS({days}) <= %s AND {_B_FREE} AND {_E_FREE} AND NOT EXISTS ({rejected})"
    )
    params = [MatchRule.SUGGESTED, MatchStatus.SUGGESTED, run_id, window_days]
    return _execute(sql, [*params, run_id, MatchStatus.REJECTED])


def analyze(*tables: str) -> None:
    """PostgreSQL: refresh the planner's statistics of `tables` (names as in `_names`).

    The snapshot tables were just filled and each rule fills the match table; with the
    statistics of before, the planner takes them for empty and answers "not paired yet" by
    scanning the match table once per row (20,000 rows a side: rule 2 took 338 s instead of
    well under a second, measured 2026-12-07).
    """
    if connection.vendor == "postgresql":
        _execute(f"ANALYZE {', '.join(_names()[t] for t in tables)}", [])


def match_all(run_id: int, *, window_days: int) -> dict[str, int]:
    """Apply every rule in order; returns the rows each wrote.

    Expects the snapshot tables' statistics to be fresh: `run_execute` analyzes them once
    the snapshot is stored (`analyze("bill", "erp")`), in the snapshot step, as loading
    ends. Here only the match table, which each rule fills, is analyzed again.
    """
    no_jit()
    analyze("match")
    written = {}
    for name, rule in (
        (MatchRule.EXTERNAL_ID, match_external_id),
        (MatchRule.DOCUMENT_NUMBER, match_document_number),
        (MatchRule.SUMMARY_1N, match_summary),
        ("confirmed", match_confirmed),
    ):
        written[name] = rule(run_id)
        if written[name]:
            analyze("match")
    written[MatchRule.SUGGESTED] = match_suggested(run_id, window_days=window_days)
    analyze("match")
    return written


_PAIRED = f"m.status IN ({_in(PAIRED_STATUSES)})"
# What differs between two paired rows, per break kind. Currencies that differ make the
# amounts incomparable; statuses compare only where both sides know theirs.
_PAIR_DIFFERENCES = (
    (BreakKind.CURRENCY_MISMATCH, "b.currency <> e.currency"),
    (
        BreakKind.AMOUNT_MISMATCH,
        "b.currency = e.currency AND "
        f"ROUND(ABS(e.total_amount - b.total_amount), {PLACES}) > b.tolerance_amount",
    ),
    (
        BreakKind.TAX_MISMATCH,
        "b.currency = e.currency AND "
        f"ROUND(ABS(e.tax_amount - b.tax_amount), {PLACES}) > b.tolerance_amount",
    ),
    (BreakKind.STATUS_MISMATCH, "b.status <> '' AND e.status <> '' AND b.status <> e.status"),
)
# Every (kind, pair) whose difference holds: the pairs joined once and filtered to those
# where any difference holds (behind a fence), and only those crossed with the four kinds.
# Crossing every pair with the kinds tested 400,000 (kind, pair) rows for 100,000 pairs
# (0.57 of the 0.8 s of the classification, measured 2026-12-07).
_PAIR_COLUMNS = ("currency", "total_amount", "tax_amount", "status")


def _on_pair(test: str) -> str:
    """`test` on the columns the differing pairs carry (b.x → p.b_x, e.x → p.e_x)."""
    return re.sub(r"\b([be])\.(\w+)", r"p.\1_\2", test)


_PAIRS_DIFFERING = (
    "SELECT b.id AS b_id, e.id AS e_id, b.tolerance_amount AS b_tolerance_amount, "
    + ", ".join(f"{side}.{c} AS {side}_{c}" for c in _PAIR_COLUMNS for side in "be")
    + " FROM {match} m "
    "JOIN {bill} b ON b.id = m.{billing_row_id} JOIN {erp} e ON e.id = m.{erp_row_id} "
    "WHERE m.{run_id} = %s AND "
    + _PAIRED
    + " AND m.rule <> %s AND ("
    + " OR ".join(f"({test})" for _, test in _PAIR_DIFFERENCES)
    + ")"
)
_PAIRS = (
    "SELECT k.kind, p.b_id, p.e_id FROM ({pairs_differing}) p JOIN ("
    + " UNION ALL ".join("SELECT %s AS kind" for _ in _PAIR_DIFFERENCES)
    + ") k ON "
    + " OR ".join(f"(k.kind = %s AND {_on_pair(test)})" for _, test in _PAIR_DIFFERENCES)
)
_E_PAIRED = "EXISTS (SELECT 1 FROM {match} m WHERE m.{erp_row_id} = {e}.id AND " + _PAIRED + ")"
# Another ERP row of the run that is paired and is the same document as `e`.
# Two EXISTS rather than one with an OR, so each can use its index (external id, party).
_TWIN = (
    "(EXISTS (SELECT 1 FROM {erp} p WHERE p.{run_id} = e.{run_id} AND p.id <> e.id "
    "AND e.external_id <> '' AND p.external_id = e.external_id AND "
    + _E_PAIRED.replace("{e}", "p")
    + ") OR EXISTS (SELECT 1 FROM {erp} p WHERE p.{run_id} = e.{run_id} AND p.id <> e.id "
    "AND p.party_code = e.party_code AND p.kind = e.kind AND p.currency = e.currency "
    "AND p.total_amount = e.total_amount AND p.document_date = e.document_date AND "
    + _E_PAIRED.replace("{e}", "p")
    + "))"
)


def _fence() -> str:
    """Keeps PostgreSQL from merging a subquery into its caller (SQLite needs nothing)."""
    return " OFFSET 0" if connection.vendor == "postgresql" else ""


def _e_unpaired_rows() -> str:
    # The unpaired ERP rows, behind a fence: merged into the caller, PostgreSQL tested every
    # ERP row for a twin before dropping the paired ones (0.35 s per 20,000 rows).
    return (
        "SELECT e.id, e.{run_id}, e.external_id, e.kind, e.party_code, e.currency, "
        f"e.total_amount, e.document_date FROM {{erp}} e WHERE e.{{run_id}} = %s "
        f"AND e.kind IN ({_in(ERP_KINDS)}) AND NOT " + _E_PAIRED.replace("{e}", "e") + _fence()
    )


def no_jit() -> None:
    """PostgreSQL: no JIT for the rest of the transaction. The engine's statements are
    costed high and short; compiling them took about 3 s a run under load (measured on
    20,000 rows a side, 2026-12-07), several times their execution."""
    if connection.vendor == "postgresql":
        _execute("SET LOCAL jit = off", [])


def breaks_found(run_id: int) -> list[tuple[str, int | None, int | None]]:
    """Every break of the run: (kind, billing row id or None, ERP row id or None)."""
    no_jit()
    kinds = [kind for kind, _ in _PAIR_DIFFERENCES]
    # Paired rows that differ (a 1:N summary's rows are compared as a sum, by rule 3).
    sql = [_PAIRS.replace("{pairs_differing}", _PAIRS_DIFFERING + _fence())]
    params: list = [run_id, *PAIRED_STATUSES, MatchRule.SUMMARY_1N, *kinds, *kinds]
    # Billing rows nothing paired (a suggestion does not pair).
    sql.append(
        "SELECT %s, b.id, NULL FROM {bill} b WHERE b.{run_id} = %s AND NOT EXISTS "
        "(SELECT 1 FROM {match} m WHERE m.{run_id} = b.{run_id} AND m.{billing_row_id} = b.id "
        "AND " + _PAIRED + ")"
    )
    params += [BreakKind.MISSING_IN_ERP, run_id, *PAIRED_STATUSES]
    # Unpaired ERP rows: a duplicate when it repeats a paired one (same external id, or same
    # kind, party, currency, total and date), else missing in billing. One pass.
    sql.append(
        "SELECT CASE WHEN "
        + _TWIN
        + " THEN %s ELSE %s END, NULL, e.id FROM ("
        + _e_unpaired_rows()
        + ") e"
    )
    twin = [*PAIRED_STATUSES, *PAIRED_STATUSES]
    params += [*twin, BreakKind.DUPLICATE_IN_ERP, BreakKind.MISSING_IN_BILLING]
    params += [run_id, *ERP_KINDS, *PAIRED_STATUSES]
    with connection.cursor() as cursor:
        cursor.execute(_sql(" UNION ALL ".join(sql)), params)
        return [(str(kind), b_id, e_id) for kind, b_id, e_id in cursor.fetchall()]
