"""Cases grouped by cause: one case per cause listing the records it blocks."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from billing.choices import QuarantineReason
from exceptions.kinds import CaseKind
from exceptions.models import Case, CaseKindOwner, CaseState
from exceptions.services import BlockedRecord, case_open_or_bump, cases_resolve_for_subject
from tests.exceptions.factories import UserFactory

pytestmark = pytest.mark.django_db


def _block(cause, record, *, value="10.00", customer="c-1", kind="mapping_missing"):
    return case_open_or_bump(
        subject=cause,
        kind=kind,
        severity="high",
        title="No invoice rule for DE01 / support",
        cause_key="conn:DE01:invoice:support",
        entity="DE01",
        item=BlockedRecord(
            subject=record,
            label=f"invoice {record.username}",
            value_amount=Decimal(value),
            currency="EUR",
            customer=customer,
            period="2026-05",
        ),
    )


def test_many_blocked_records_make_one_case_with_count_and_items():
    cause = UserFactory()
    records = [UserFactory() for _ in range(3)]

    cases = {_block(cause, record).pk for record in records}

    assert len(cases) == 1
    case = Case.objects.get()
    assert case.item_count == 3
    assert case.occurrences == 3
    assert sorted(i.subject_id for i in case.items.all()) == sorted(str(r.pk) for r in records)
    assert sum(i.value_amount for i in case.items.all()) == Decimal("30.00")


def test_the_same_record_again_is_not_counted_twice():
    cause, record = UserFactory(), UserFactory()
    _block(cause, record)
    case = _block(cause, record)
    assert case.item_count == 1
    assert case.items.count() == 1
    assert case.occurrences == 2


def test_clearing_items_resolves_the_case_when_none_is_left():
    cause = UserFactory()
    first, second = UserFactory(), UserFactory()
    _block(cause, first)
    _block(cause, second)

    assert cases_resolve_for_subject(subject=first, actor=None, reason="posted") == 0
    case = Case.objects.get()
    assert (case.state, case.item_count) == (CaseState.OPEN, 1)

    assert cases_resolve_for_subject(subject=second, actor=None, reason="posted") == 1
    case.refresh_from_db()
    assert case.state == CaseState.RESOLVED
    assert case.item_count == 0
    reasons = list(case.history.values_list("history_change_reason", flat=True))
    assert any(r.endswith("cleared: posted") for r in reasons)
    assert any(r.startswith("resolved: all blocked records cleared") for r in reasons)


def test_a_recurrence_after_resolution_reopens_the_same_case():
    cause, record = UserFactory(), UserFactory()
    first = _block(cause, record)
    cases_resolve_for_subject(subject=record, actor=None, reason="posted")

    again = _block(cause, record)

    assert again.pk == first.pk
    assert again.state == CaseState.OPEN
    assert again.item_count == 1


def test_record_level_and_grouped_cases_on_one_subject_do_not_collide():
    subject = UserFactory()
    record_case = case_open_or_bump(subject=subject, kind="mapping_missing", severity="high",
                                    title="on the record")  # fmt: skip
    grouped = _block(subject, UserFactory())
    assert record_case.pk != grouped.pk
    assert Case.objects.count() == 2


def test_new_case_is_routed_to_its_kinds_owner_group_else_the_default():
    admins = Group.objects.get(name="integration_admin")
    CaseKindOwner.objects.create(kind="mapping_missing", group=admins)

    owned = _block(UserFactory(), UserFactory())
    default = case_open_or_bump(subject=UserFactory(), kind="unknown_customer",
                                severity="medium", title="x")  # fmt: skip

    assert owned.owner_group == admins
    assert default.owner_group.name == "finance_ops"


def test_one_vocabulary_holds_every_kind_the_apps_raise():
    from erp_sync.services.common import GROUPED_KINDS
    from erp_sync.services.jobs import REBUILD_CODES
    from reconciliation.choices import BreakKind
    from reconciliation.services.breaks import CASE_KIND_PREFIX

    raised = {
        *QuarantineReason.values,
        *GROUPED_KINDS,
        *REBUILD_CODES,
        "circuit_open",
        "parent_failed",
        "erp_unparseable",
        *(CASE_KIND_PREFIX + kind for kind in BreakKind.values),
    }
    assert raised <= set(CaseKind.values)
    assert "period_closed" not in CaseKind.values


def test_data_migration_renames_period_closed_to_closed_period():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("exceptions.migrations.0003_one_closed_period_kind")
    old = case_open_or_bump(subject=UserFactory(), kind="closed_period", severity="low", title="x")
    Case.objects.filter(pk=old.pk).update(kind="period_closed")

    migration.forwards(apps, None)

    assert Case.objects.get(pk=old.pk).kind == "closed_period"
