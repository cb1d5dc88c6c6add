"""Breaks: written from a run's findings, accepted by a person, resolved when they are gone.

Every break has one exception case (kind `reconciliation_<break kind>`, subject the break):
an open break opens or bumps it, an accepted or resolved break resolves it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django_fsm import TransitionNotAllowed
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from config.history import history_attrs, stamp
from exceptions.case_batches import cases_open_or_bump_many, cases_resolve_for_subjects
from exceptions.services import cases_resolve_for_subject
from reconciliation.choices import BreakKind, BreakState
from reconciliation.errors import ReconciliationError
from reconciliation.models import BillingSnapshotRow, Break, ErpSnapshotRow, ReconciliationRun

CASE_KIND_PREFIX = "reconciliation_"
CASE_SEVERITY = {
    BreakKind.MISSING_IN_ERP: "high",
    BreakKind.MISSING_IN_BILLING: "high",
    BreakKind.AMOUNT_MISMATCH: "high",
    BreakKind.CURRENCY_MISMATCH: "high",
    BreakKind.DUPLICATE_IN_ERP: "high",
    BreakKind.TAX_MISMATCH: "medium",
    BreakKind.STATUS_MISMATCH: "medium",
    BreakKind.USAGE_NOT_INVOICED: "high",
    BreakKind.USAGE_NOT_RECORDED: "high",
    BreakKind.QUANTITY_MISMATCH: "high",
    BreakKind.ACCRUAL_NOT_SETTLED: "medium",
    BreakKind.SETTLED_NOT_ACCRUED: "high",
}
# Break fields a run rewrites each time it finds the break.
VALUE_FIELDS = (
    "party_code",
    "document_date",
    "billing_kind",
    "billing_number",
    "billing_currency",
    "billing_total_amount",
    "billing_tax_amount",
    "billing_status",
    "erp_external_id",
    "erp_number",
    "erp_currency",
    "erp_total_amount",
    "erp_tax_amount",
    "erp_status",
    "difference_amount",
    "difference_currency",
    "billing_quantity",
    "erp_quantity",
)
# Value fields that are null when a side has no value (the others are "").
NULLABLE_FIELDS = (
    "billing_total_amount",
    "billing_tax_amount",
    "erp_total_amount",
    "erp_tax_amount",
    "difference_amount",
    "document_date",
    "billing_quantity",
    "erp_quantity",
)
# What a re-run rewrites on a break it finds again (besides the values).
UPDATED_FIELDS = ["last_seen_run", "state", "resolved_run", "resolved_at", *VALUE_FIELDS]
BATCH = 2000


def break_key(kind: str, billing: BillingSnapshotRow | None, erp: ErpSnapshotRow | None) -> str:
    """The natural key: the kind and the side the break is about (billing's when present)."""
    side = billing.key if billing is not None else erp.key
    return f"{kind!s}|{side}"[:255]


def empty_values() -> dict:
    """Every value field blank: "" or null."""
    values: dict = dict.fromkeys(VALUE_FIELDS, "")
    values.update(dict.fromkeys(NULLABLE_FIELDS))
    return values


def break_values(kind: str, billing: BillingSnapshotRow | None, erp: ErpSnapshotRow | None) -> dict:
    """Both sides' values and the difference (ERP minus billing) of one finding."""
    values: dict = empty_values()
    if billing is not None:
        values.update(
            party_code=billing.party_code,
            document_date=billing.document_date,
            billing_kind=billing.kind,
            billing_number=billing.number,
            billing_currency=billing.currency,
            billing_total_amount=billing.total_amount,
            billing_tax_amount=billing.tax_amount,
            billing_status=billing.status,
        )
    if erp is not None:
        values.update(
            erp_external_id=erp.external_id,
            erp_number=erp.number,
            erp_currency=erp.currency,
            erp_total_amount=erp.total_amount,
            erp_tax_amount=erp.tax_amount,
            erp_status=erp.status,
        )
        values["party_code"] = values["party_code"] or erp.party_code
        values["document_date"] = values["document_date"] or erp.document_date
    values.update(_difference(kind, billing, erp))
    return values


def _difference(kind: str, billing, erp) -> dict:
    if kind == BreakKind.CURRENCY_MISMATCH:
        return {"difference_amount": None, "difference_currency": ""}
    if kind == BreakKind.TAX_MISMATCH:
        return {
            "difference_amount": erp.tax_amount - billing.tax_amount,
            "difference_currency": billing.currency,
        }
    erp_total = erp.total_amount if erp is not None else Decimal(0)
    billing_total = billing.total_amount if billing is not None else Decimal(0)
    currency = billing.currency if billing is not None else erp.currency
    return {"difference_amount": erp_total - billing_total, "difference_currency": currency}


def _case_title(item: Break, run: ReconciliationRun) -> str:
    if item.scope != "documents":
        what = f"{item.billing_kind or item.scope} {item.billing_number or item.erp_number}"
        return f"{item.get_kind_display()}: {what} ({run.entity.code} {run.period_start:%Y-%m})"
    what = (
        f"{item.billing_kind.replace('_', ' ')} {item.billing_number}"
        if item.billing_number
        else f"ERP document {item.erp_number or item.erp_external_id}"
    )
    return f"{item.get_kind_display()}: {what} ({run.entity.code} {run.period_start:%Y-%m})"


def _case_values(item: Break, run: ReconciliationRun) -> dict:
    """The keyword arguments of `case_open_or_bump` for an open break."""
    return {
        "kind": CASE_KIND_PREFIX + item.kind,
        "severity": CASE_SEVERITY[item.kind],
        "title": _case_title(item, run),
        "detail": {
            "break": item.pk,
            "run": run.pk,
            "billing": f"{item.billing_total_amount} {item.billing_currency}".strip(),
            "erp": f"{item.erp_total_amount} {item.erp_currency}".strip(),
            "difference": f"{item.difference_amount} {item.difference_currency}".strip(),
            **(
                {"quantities": f"{item.billing_quantity} / {item.erp_quantity}"}
                if item.scope == "usage"
                else {}
            ),
        },
        "entity": run.entity.code,
        "customer": item.party_code,
        "period": f"{run.period_start:%Y-%m}",
    }


def breaks_record(
    *,
    run: ReconciliationRun,
    findings: Iterable[tuple[str, int | None, int | None]],
    actor,
) -> int:
    """Write a completed run's findings as breaks; returns how many breaks the run found.

    Inside the caller's transaction. A finding whose key exists updates that break (a
    resolved one is reopened); a new key creates one; an open or accepted break of the run's
    entity, period and scope that the run did not find is resolved. Open breaks open or bump
    their case; resolved ones resolve it. Idempotent for the same findings, except that each
    re-run bumps the cases of the open breaks once more.
    """
    findings = list(findings)
    billing = BillingSnapshotRow.objects.in_bulk([b for _, b, _ in findings if b])
    erp = ErpSnapshotRow.objects.in_bulk([e for _, _, e in findings if e])
    found: dict[str, tuple[str, dict]] = {}
    for kind, b_id, e_id in findings:
        b, e = billing.get(b_id), erp.get(e_id)
        found.setdefault(break_key(kind, b, e), (kind, break_values(kind, b, e)))
    return breaks_write(run=run, found=found, actor=actor)


def breaks_write(*, run: ReconciliationRun, found: dict[str, tuple[str, dict]], actor) -> int:
    """Write a run's breaks, `found` mapping each natural key to (kind, value fields); returns
    how many. Inside the caller's transaction; see `breaks_record` for what it does."""
    scope = {
        "entity_id": run.entity_id,
        "period_start": run.period_start,
        "period_end": run.period_end,
        "scope": run.scope,
    }
    existing = {item.key: item for item in Break.objects.select_for_update().filter(**scope)}
    # Set-based: the breaks in one bulk insert and one bulk update (each with its history
    # rows), then their cases (exceptions.case_batches.cases_open_or_bump_many). One save and
    # one case per break took 20-40 ms each (5 minutes for 10,000 breaks, measured
    # 2026-12-07). Every break is locked above and the run holds its scope, so nothing
    # else writes these rows meanwhile (the bulk writes skip Break's state check).
    created: list[Break] = []
    updated: list[Break] = []
    for key, (kind, values) in sorted(found.items()):
        item = existing.get(key)
        if item is None:
            item = Break(key=key, kind=kind, first_seen_run=run, last_seen_run=run, **scope)
            reason = f"found by run #{run.pk}"
            created.append(item)
        else:
            item.last_seen_run = run
            reason = f"found again by run #{run.pk}"
            if item.state == BreakState.RESOLVED:
                item.reopen()
                reason = f"recurred in run #{run.pk}"
            updated.append(item)
        for name, value in values.items():
            setattr(item, name, value)
        stamp(item, actor=actor, reason=reason)
    extra = history_attrs()
    bulk_create_with_history(created, Break, batch_size=BATCH, custom_historical_attrs=extra)
    bulk_update_with_history(
        updated, Break, fields=UPDATED_FIELDS, batch_size=BATCH, custom_historical_attrs=extra
    )
    opened = sorted((i for i in created + updated if i.state == BreakState.OPEN), key=_by_key)
    cases_open_or_bump_many(items=[(i, _case_values(i, run)) for i in opened], actor=actor)
    gone = [i for k, i in sorted(existing.items()) if k not in found]
    _resolve_many(
        [i for i in gone if i.state != BreakState.RESOLVED],
        run=run,
        actor=actor,
        reason=f"no longer found by run #{run.pk}",
    )
    return len(found)


def _by_key(item: Break) -> str:
    return item.key


def _resolve_many(items: list[Break], *, run: ReconciliationRun, actor, reason: str) -> None:
    """`_resolve` for many breaks at once: one bulk update with history, then their cases."""
    if not items:
        return
    for item in items:
        item.resolve(run=run)
        stamp(item, actor=actor, reason=f"resolved: {reason}")
    bulk_update_with_history(
        items,
        Break,
        fields=["state", "resolved_run", "resolved_at"],
        batch_size=BATCH,
        custom_historical_attrs=history_attrs(),
    )
    cases_resolve_for_subjects(subjects=items, actor=actor, reason=reason)


def _resolve(item: Break, *, run: ReconciliationRun | None, actor, reason: str) -> None:
    item.resolve(run=run)
    stamp(item, actor=actor, reason=f"resolved: {reason}")
    item.save(update_fields=["state", "resolved_run", "resolved_at"])
    cases_resolve_for_subject(subject=item, actor=actor, reason=reason)


def breaks_resolve(*, breaks: Iterable[Break], actor, reason: str) -> int:
    """Resolve open or accepted breaks (and their cases); returns how many. Idempotent."""
    count = 0
    with transaction.atomic():
        for item in Break.objects.select_for_update().filter(pk__in=[b.pk for b in breaks]):
            if item.state != BreakState.RESOLVED:
                _resolve(item, run=None, actor=actor, reason=reason)
                count += 1
    return count


def break_accept(*, item: Break, note: str, actor) -> Break:
    """Accept an open break as it is, with `note` saying why; resolves its case.

    Idempotent on an accepted break. Raises ReconciliationError: `note_required` for a blank
    note, `illegal_transition` for a resolved break.
    """
    note = (note or "").strip()
    if not note:
        raise ReconciliationError(
            "accepting a break needs a note saying why", code="note_required", field="note",
            status=400,
        )  # fmt: skip
    with transaction.atomic():
        item = Break.objects.select_for_update().get(pk=item.pk)
        if item.state == BreakState.ACCEPTED:
            return item
        try:
            item.accept(note=note, by=actor if actor is not None and actor.pk else None)
        except TransitionNotAllowed:
            raise ReconciliationError(
                f"cannot accept a break that is {item.state}", code="illegal_transition"
            ) from None
        stamp(item, actor=actor, reason=f"accepted: {note}")
        item.save(update_fields=["state", "note", "accepted_by", "accepted_at"])
        cases_resolve_for_subject(subject=item, actor=actor, reason=f"break accepted: {note}")
    return item
