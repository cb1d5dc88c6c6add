"""Property: for random billing and ERP document sets with injected defects, the SQL engine's
matches, suggestions and breaks equal a straightforward Python reference implementation's.

Run on SQLite and on PostgreSQL (DATABASE_URL): both must agree with the same reference, so
the two databases give the same answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciliation.choices import DOCUMENT_SCOPE_KINDS, SUMMARY_KIND, MatchStatus
from reconciliation.models import BillingSnapshotRow, ErpSnapshotRow, Match, ReconciliationRun
from reconciliation.services import engine_sql
from tests.reconciliation.factories import (
    MAY_END,
    MAY_START,
    ConnectionFactory,
    LegalEntityFactory,
)

pytestmark = pytest.mark.django_db
D = Decimal
WINDOW = 3
TOLERANCE = D("0.01")
ERP_KINDS = (*DOCUMENT_SCOPE_KINDS, SUMMARY_KIND)


@dataclass(frozen=True)
class Doc:
    id: int
    kind: str
    number: str
    external_id: str
    party: str
    currency: str
    total: Decimal
    tax: Decimal
    status: str
    day: int
    erp_number: str = ""  # billing only

    @property
    def date(self) -> dt.date:
        return dt.date(2026, 5, self.day)


# -- the reference -----------------------------------------------------------------------------
def reference(bills: list[Doc], erps: list[Doc]) -> tuple[set, set, set]:
    """(paired (b, e, rule), suggested (b, e), break keys), written the obvious way."""
    pairs: dict[int, tuple[int, str]] = {}
    paired_e: set[int] = set()
    docs = [e for e in erps if e.kind in DOCUMENT_SCOPE_KINDS]
    for b in bills:  # 1: external id, lowest ERP id
        same = [e for e in docs if b.external_id and e.external_id == b.external_id]
        if same:
            e = min(same, key=lambda x: x.id)
            pairs[b.id] = (e.id, "external_id")
            paired_e.add(e.id)
    found = []  # 2: recorded ERP number, 1:1
    for b in bills:
        for e in docs:
            if b.id in pairs or e.id in paired_e or not b.erp_number:
                continue
            if e.number == b.erp_number:
                once_e = sum(1 for x in erps if x.number == b.erp_number) == 1
                once_b = sum(1 for x in bills if x.erp_number == e.number) == 1
                if once_e and once_b:
                    found.append((b.id, e.id))
    for b_id, e_id in found:
        pairs[b_id] = (e_id, "document_number")
        paired_e.add(e_id)
    summaries = [e for e in erps if e.kind == SUMMARY_KIND and e.party]  # 3: summaries
    covered = []
    for s in summaries:
        if any(
            o.id != s.id
            and o.kind == SUMMARY_KIND
            and (o.party, o.currency) == (s.party, s.currency)
            for o in erps
        ):
            continue
        group = [
            b
            for b in bills
            if b.kind == "invoice"
            and b.id not in pairs
            and (b.party, b.currency) == (s.party, s.currency)
        ]
        if group and abs(sum(b.total for b in group) - s.total) <= TOLERANCE:
            covered.append((s, group))
    for s, group in covered:
        for b in group:
            pairs[b.id] = (s.id, "summary_1n")
        paired_e.add(s.id)
    suggested = {  # 4: suggestions among what is still unpaired
        (b.id, e.id)
        for b in bills
        for e in erps
        if b.id not in pairs
        and e.id not in paired_e
        and b.party
        and (e.kind, e.party, e.currency) == (b.kind, b.party, b.currency)
        and abs(e.total - b.total) <= TOLERANCE
        and abs((e.date - b.date).days) <= WINDOW
    }
    by_id = {e.id: e for e in erps}
    breaks = set()
    for b in bills:
        if b.id not in pairs:
            breaks.add(f"missing_in_erp|{b.kind}:{b.number}")
            continue
        e_id, rule = pairs[b.id]
        e = by_id[e_id]
        if rule == "summary_1n":
            continue
        if b.currency != e.currency:
            breaks.add(f"currency_mismatch|{b.kind}:{b.number}")
        else:
            if abs(e.total - b.total) > TOLERANCE:
                breaks.add(f"amount_mismatch|{b.kind}:{b.number}")
            if abs(e.tax - b.tax) > TOLERANCE:
                breaks.add(f"tax_mismatch|{b.kind}:{b.number}")
        if b.status and e.status and b.status != e.status:
            breaks.add(f"status_mismatch|{b.kind}:{b.number}")
    for e in erps:
        if e.kind not in ERP_KINDS or e.id in paired_e:
            continue
        twin = any(
            p.id != e.id
            and p.id in paired_e
            and (
                (e.external_id and p.external_id == e.external_id)
                or (p.kind, p.party, p.currency, p.total, p.date)
                == (e.kind, e.party, e.currency, e.total, e.date)
            )
            for p in erps
        )
        kind = "duplicate_in_erp" if twin else "missing_in_billing"
        breaks.add(f"{kind}|erp:{e.external_id}|{e.number}")
    paired = {(b, e, rule) for b, (e, rule) in pairs.items()}
    return paired, suggested, breaks


# -- random document sets with defects ------------------------------------------------------------
DEFECTS = (
    "none", "none", "none", "missing", "round_in", "round_out", "tax", "currency", "status",
    "dup_same_id", "dup_copy", "lookalike", "rekeyed", "rekeyed_unrecorded", "other_kind",
)  # fmt: skip
bill_spec = st.tuples(
    st.sampled_from(["invoice", "invoice", "payment", "credit_note"]),
    st.sampled_from(["p1", "p2", "p3", ""]),
    st.sampled_from([D("50.00"), D("100.00"), D("100.01"), D("120.00")]),
    st.sampled_from([D("0.00"), D("8.00")]),
    st.integers(min_value=1, max_value=28),
    st.sampled_from(["", "open", "settled"]),
    st.sampled_from(DEFECTS),
)
extra_spec = st.tuples(
    st.sampled_from(["invoice", "payment", "settlement"]),
    st.sampled_from(["p1", "p2", "p4"]),
    st.sampled_from([D("50.00"), D("100.00"), D("75.00")]),
    st.integers(min_value=1, max_value=28),
)
summary_spec = st.tuples(
    st.sampled_from(["p5", "p1"]),
    st.lists(st.sampled_from([D("10.00"), D("20.00"), D("30.00")]), min_size=1, max_size=4),
    st.sampled_from([D("0.00"), D("0.01"), D("0.05")]),
    st.integers(min_value=1, max_value=2),
)


def generate(bill_specs, extra_specs, summary_specs) -> tuple[list[Doc], list[Doc]]:
    bills: list[Doc] = []
    erps: list[Doc] = []

    def erp(doc: Doc, **changes) -> Doc:
        made = replace(doc, id=len(erps) + 1, number=f"E{len(erps) + 1}", erp_number="", **changes)
        erps.append(made)
        return made

    for i, (kind, party, total, tax, day, status, defect) in enumerate(bill_specs):
        status = status if kind == "invoice" else ""
        b = Doc(i + 1, kind, f"B{i + 1}", f"ext{i + 1}", party, "USD", total, tax, status, day)
        if defect == "missing":
            bills.append(b)
            continue
        changes = {
            "round_in": {"total": total + D("0.01")},
            "round_out": {"total": total + D("0.02")},
            "tax": {"tax": tax + D("1.00")},
            "currency": {"currency": "EUR"},
            "status": {"status": "open" if status != "open" else "settled"},
            "rekeyed": {"external_id": f"manual{i + 1}"},
            "rekeyed_unrecorded": {"external_id": f"manual{i + 1}"},
            "other_kind": {"kind": "payment" if kind != "payment" else "refund"},
        }.get(defect, {})
        e = erp(b, **changes)
        if defect != "rekeyed_unrecorded":
            b = replace(b, erp_number=e.number)
        if defect == "dup_same_id":
            erp(b)
        if defect == "dup_copy":
            erp(b, external_id=f"copy{i + 1}")
        if defect == "lookalike":  # same party and amount, another day: not a duplicate
            erp(b, external_id=f"other{i + 1}", day=day % 28 + 1)
        bills.append(b)
    for kind, party, total, day in extra_specs:
        erp(Doc(0, kind, "", f"extra{len(erps) + 1}", party, "USD", total, D(0), "", day))
    for party, amounts, residue, count in summary_specs:
        for amount in amounts:
            n = len(bills) + 1
            bills.append(Doc(n, "invoice", f"B{n}", f"ext{n}", party, "USD", amount, D(0), "", 5))
        for _ in range(count):
            total = sum(amounts, D(0)) + residue
            erp(Doc(0, SUMMARY_KIND, "", "", party, "USD", total, D(0), "", 28))
    return bills, erps


# -- the engine on the same sets ----------------------------------------------------------------
def engine(bills: list[Doc], erps: list[Doc]) -> tuple[set, set, set]:
    connection = ConnectionFactory(entity=LegalEntityFactory(code="US01"))
    run = ReconciliationRun.objects.create(
        entity=connection.entity, connection=connection, period_start=MAY_START, period_end=MAY_END
    )
    common = lambda d: {  # noqa: E731
        "run": run, "kind": d.kind, "number": d.number, "external_id": d.external_id,
        "party_code": d.party, "currency": d.currency, "total_amount": d.total,
        "tax_amount": d.tax, "status": d.status, "document_date": d.date,
    }  # fmt: skip
    b_rows = BillingSnapshotRow.objects.bulk_create(
        BillingSnapshotRow(
            **common(b), record_id=b.id, erp_number=b.erp_number, tolerance_amount=TOLERANCE
        )
        for b in bills
    )
    e_rows = ErpSnapshotRow.objects.bulk_create(ErpSnapshotRow(**common(e)) for e in erps)
    b_id = {row.pk: doc.id for row, doc in zip(b_rows, bills, strict=True)}
    e_id = {row.pk: doc.id for row, doc in zip(e_rows, erps, strict=True)}
    engine_sql.analyze("bill", "erp")  # as run_execute does once the snapshot is stored
    engine_sql.match_all(run.pk, window_days=WINDOW)
    matches = Match.objects.filter(run=run).values_list("billing_row", "erp_row", "rule", "status")
    paired = {(b_id[b], e_id[e], r) for b, e, r, s in matches if s == MatchStatus.MATCHED}
    suggested = {(b_id[b], e_id[e]) for b, e, r, s in matches if s == MatchStatus.SUGGESTED}
    rows_b = {row.pk: row for row in b_rows}
    rows_e = {row.pk: row for row in e_rows}
    breaks = {
        f"{kind}|{(rows_b[b] if b else rows_e[e]).key}"
        for kind, b, e in engine_sql.breaks_found(run.pk)
    }
    return paired, suggested, breaks


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(bill_spec, max_size=14),
    st.lists(extra_spec, max_size=4),
    st.lists(summary_spec, max_size=2),
)
def test_engine_random_sets_with_defects_equal_python_reference(bills_, extras, summaries):
    bills, erps = generate(bills_, extras, summaries)
    with transaction.atomic():
        got = engine(bills, erps)
        transaction.set_rollback(True)

    assert got == reference(bills, erps)
