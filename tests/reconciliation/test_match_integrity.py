"""Match rows keep their integrity without database foreign-key constraints.

Match.run, Match.billing_row and Match.erp_row have `db_constraint=False` (docs/decisions.md,
"Match rows without foreign-key constraints"): the engine writes each pair from its own run's
snapshot rows, and Django's CASCADE deletes the matches of a deleted run or snapshot row.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection

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


def _run_with_documents(code: str) -> ReconciliationRun:
    """A run whose snapshot pairs by every rule that writes rows: external id, document
    number, a 1:N summary and a suggestion. Every run gets the same documents (same external
    ids and numbers), so a join that ignored the run would pair across runs."""
    erp = ConnectionFactory(entity=LegalEntityFactory(code=code))
    run = ReconciliationRun.objects.create(
        entity=erp.entity, connection=erp, period_start=MAY_START, period_end=MAY_END
    )

    def common(kind, number, external_id, party, total, day=5):
        return {
            "run": run, "kind": kind, "number": number, "external_id": external_id,
            "party_code": party, "currency": "USD", "total_amount": D(total),
            "tax_amount": D(0), "status": "", "document_date": dt.date(2026, 5, day),
        }  # fmt: skip

    bills = [
        ("invoice", "B1", "ext1", "p1", "100.00", "E1"),  # external id
        ("invoice", "B2", "ext2", "p1", "200.00", "E2"),  # document number (rekeyed)
        ("invoice", "B3", "ext3", "p2", "30.00", ""),  # summary of p2
        ("invoice", "B4", "ext4", "p2", "70.00", ""),  # summary of p2
        ("payment", "B5", "ext5", "p3", "55.00", ""),  # suggested (party + amount)
        ("invoice", "B6", "ext6", "p4", "10.00", ""),  # missing in the ERP
    ]
    BillingSnapshotRow.objects.bulk_create(
        BillingSnapshotRow(
            **common(kind, number, ext, party, total),
            record_id=i,
            erp_number=erp_number,
            tolerance_amount=D("0.01"),
        )
        for i, (kind, number, ext, party, total, erp_number) in enumerate(bills, start=1)
    )
    ErpSnapshotRow.objects.bulk_create(
        ErpSnapshotRow(**values)
        for values in (
            common("invoice", "E1", "ext1", "p1", "100.00"),
            common("invoice", "E2", "manual-2", "p1", "200.00"),
            common("summary", "E3", "", "p2", "100.00", day=28),
            common("payment", "E5", "manual-5", "p3", "55.00", day=6),
        )
    )
    engine_sql.analyze("bill", "erp")
    engine_sql.match_all(run.pk, window_days=3)
    return run


def _foreign_rows() -> list[tuple]:
    """Matches whose snapshot row is missing or belongs to another run (must be none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.id FROM reconciliation_match m "
            "LEFT JOIN reconciliation_billingsnapshotrow b ON b.id = m.billing_row_id "
            "LEFT JOIN reconciliation_erpsnapshotrow e ON e.id = m.erp_row_id "
            "LEFT JOIN reconciliation_reconciliationrun r ON r.id = m.run_id "
            "WHERE r.id IS NULL OR b.id IS NULL OR e.id IS NULL "
            "OR b.run_id <> m.run_id OR e.run_id <> m.run_id"
        )
        return cursor.fetchall()


def test_every_match_points_to_its_own_runs_snapshot_rows():
    first, second = _run_with_documents("US01"), _run_with_documents("DE01")

    for run in (first, second):
        rules = sorted(Match.objects.filter(run=run).values_list("rule", flat=True))
        assert rules == ["document_number", "external_id", "suggested", "summary_1n", "summary_1n"]
    assert _foreign_rows() == []


def test_deleting_a_run_deletes_its_matches_and_leaves_the_other_runs():
    first, second = _run_with_documents("US01"), _run_with_documents("DE01")
    kept = set(Match.objects.filter(run=second).values_list("pk", flat=True))

    first.delete()

    assert set(Match.objects.values_list("pk", flat=True)) == kept
    assert not BillingSnapshotRow.objects.filter(run_id=first.pk).exists()
    assert not ErpSnapshotRow.objects.filter(run_id=first.pk).exists()
    assert _foreign_rows() == []


def test_deleting_a_snapshot_row_deletes_the_matches_on_it():
    run = _run_with_documents("US01")
    summary = ErpSnapshotRow.objects.get(run=run, kind="summary")
    invoice = BillingSnapshotRow.objects.get(run=run, number="B1")

    summary.delete()
    invoice.delete()

    assert sorted(Match.objects.filter(run=run).values_list("rule", flat=True)) == [
        "document_number",
        "suggested",
    ]
    assert _foreign_rows() == []
