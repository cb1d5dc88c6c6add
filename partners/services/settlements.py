"""Settlements: open, calculate, submit, approve (four-eyes), reject, reopen, mark paid.

Each service locks the settlement row (select_for_update) before it checks and acts, and the
model's ConcurrentTransitionMixin refuses a save from a stale copy: of two concurrent
approvals exactly one transition happens; the other is refused (`illegal_transition`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from config.history import history_attrs, stamp
from config.money import quantize
from partners.choices import (
    CLAWBACK_SOURCES,
    FROZEN_SETTLEMENT_STATES,
    AccrualSource,
    AgreementState,
    RuleKind,
    SettlementLineKind,
    SettlementState,
)
from partners.errors import SettlementError
from partners.models import Accrual, Agreement, Partner, Settlement, SettlementLine
from partners.services.emit import payout_settled_emit, settlement_approved_emit
from partners.services.engine import accruals_recompute
from partners.services.holds import settlement_hold_check
from partners.services.periods import period_bounds
from partners.statements import statement_freeze

S = SettlementState


def _require(actor, permission: str, what: str) -> None:
    """People need the permission; an API client's identity was let through by its scope
    (`settlements:write`) at the API's edge and is held to the same four-eyes rule."""
    if actor is not None and getattr(actor, "is_api_client", False):
        return
    if actor is None or not actor.has_perm(permission):
        raise SettlementError(
            f"{what} needs the {permission} permission", code="permission_denied", status=403
        )


def _locked(settlement: Settlement) -> Settlement:
    return Settlement.objects.select_for_update().select_related("partner").get(pk=settlement.pk)


def _illegal(settlement: Settlement, verb: str) -> SettlementError:
    return SettlementError(
        f"cannot {verb} settlement {settlement.pk}: it is {settlement.get_state_display().lower()}",
        code="illegal_transition",
        field="state",
    )


def settlement_open(*, partner: Partner, on: dt.date, currency: str, actor) -> Settlement:
    """The partner's settlement for the period containing `on` (created as draft if new).

    The period kind is that of the partner's active agreement in `currency` on that day.
    Idempotent. Raises SettlementError(no_agreement).
    """
    agreement = (
        Agreement.objects.filter(partner=partner, currency=currency, state=AgreementState.ACTIVE)
        .filter(effective_from__lte=on)
        .filter(Q(effective_to__isnull=True) | Q(effective_to__gt=on))
        .first()
    )
    if agreement is None:
        raise SettlementError(
            f"partner {partner.partner_id} has no active {currency} agreement on {on}",
            code="no_agreement",
            field="partner",
        )
    start, end = period_bounds(on, agreement.settlement_period)
    with transaction.atomic():
        settlement, created = Settlement.objects.get_or_create(
            partner=partner,
            period_start=start,
            currency=currency,
            defaults={"period_end": end},
        )
        if created:
            stamp(settlement, actor=actor, reason=f"opened for {start} to {end}")
            settlement.save(update_fields=["period_end"])
    return settlement


def settlement_accruals(settlement: Settlement):
    """The accruals the settlement pays: its period's, plus those of earlier periods whose
    statement is frozen already (clawbacks after payout) — each only if no other statement
    holds it."""
    frozen_periods = Settlement.objects.filter(
        partner_id=settlement.partner_id,
        currency=settlement.currency,
        state__in=FROZEN_SETTLEMENT_STATES,
        period_start__lt=settlement.period_start,
    ).values("period_start")
    return (
        Accrual.objects.filter(partner_id=settlement.partner_id, currency=settlement.currency)
        .filter(
            Q(period_start=settlement.period_start, period_end=settlement.period_end)
            | Q(period_start__in=frozen_periods)
        )
        .filter(Q(settlement_line__isnull=True) | Q(settlement_line__settlement=settlement))
        .select_related("rule", "clawback_of__settlement_line")
        .order_by("accrued_on", "id")
    )


def _digest(accruals) -> str:
    text = "|".join(f"{a.pk}:{a.source_key}:{a.amount.normalize()}" for a in accruals)
    return hashlib.sha256(text.encode()).hexdigest()


def _line_kind(accrual: Accrual) -> str:
    if accrual.source_kind in CLAWBACK_SOURCES:
        return SettlementLineKind.CLAWBACK
    if accrual.source_kind == AccrualSource.PERIOD and accrual.rule.kind != RuleKind.REBATE:
        return SettlementLineKind.TRUE_UP
    return SettlementLineKind.ACCRUAL


def _refers_to(accrual: Accrual, settlement: Settlement) -> SettlementLine | None:
    source = accrual.clawback_of
    line = getattr(source, "settlement_line", None) if source is not None else None
    return line if line is not None and line.settlement_id != settlement.pk else None


def _recompute(settlement: Settlement, actor) -> list[Accrual]:
    accruals_recompute(
        period_start=settlement.period_start,
        period_end=settlement.period_end,
        partner=settlement.partner,
        actor=actor,
    )
    return list(settlement_accruals(settlement))


def settlement_calculate(*, settlement: Settlement, actor) -> Settlement:
    """Recompute the period's accruals and rebuild the statement lines: draft | calculated →
    calculated (then on_hold if a blocking case touches it). Total = Σ lines to the cent.

    Raises SettlementError(illegal_transition, permission_denied).
    """
    _require(actor, "partners.change_settlement", "calculating a settlement")
    with transaction.atomic():
        settlement = _locked(settlement)
        if settlement.state not in (S.DRAFT, S.CALCULATED):
            raise _illegal(settlement, "calculate")
        accruals = _recompute(settlement, actor)
        settlement.lines.all().delete()
        cur = settlement.currency
        lines = [
            SettlementLine(
                settlement=settlement,
                kind=_line_kind(accrual),
                accrual=accrual,
                source_ref=accrual.source_ref,
                explanation=accrual.explanation,
                amount=quantize(accrual.amount, cur),
                currency=cur,
                refers_to=_refers_to(accrual, settlement),
            )
            for accrual in accruals
        ]
        reason = f"calculated: {len(lines)} lines"
        bulk_create_with_history(
            lines,
            SettlementLine,
            default_user=actor if actor is not None and actor.pk else None,
            default_change_reason=reason,
            custom_historical_attrs=history_attrs(),
        )
        total = sum((line.amount for line in lines), Decimal(0))
        settlement.calculate(total=total, digest=_digest(accruals), at=timezone.now())
        stamp(settlement, actor=actor, reason=f"{reason}, total {total} {cur}")
        settlement.save()
        return settlement_hold_check(settlement=settlement, actor=actor)


def _recheck_hold(settlement: Settlement, actor) -> Settlement:
    """Hold or release now, committed on its own, so a refusal below keeps the hold."""
    with transaction.atomic():
        settlement = settlement_hold_check(settlement=_locked(settlement), actor=actor)
    if settlement.state == S.ON_HOLD:
        raise SettlementError(
            f"settlement {settlement.pk} is on hold: {settlement.hold_reason}",
            code="on_hold",
            field="state",
        )
    return settlement


def settlement_submit(*, settlement: Settlement, actor) -> Settlement:
    """calculated → submitted, by `actor` (who then may not approve it).

    Raises SettlementError(permission_denied, illegal_transition, on_hold).
    """
    _require(actor, "partners.change_settlement", "submitting a settlement")
    _recheck_hold(settlement, actor)
    with transaction.atomic():
        settlement = _locked(settlement)
        if settlement.state != S.CALCULATED:
            raise _illegal(settlement, "submit")
        settlement.submit(by=actor, at=timezone.now())
        stamp(settlement, actor=actor, reason="submitted for approval")
        settlement.save(update_fields=["state", "submitted_by", "submitted_at"])
        return settlement


def settlement_approve(*, settlement: Settlement, actor) -> Settlement:
    """submitted → approved by a second person; emits `settlement.approved` in the same
    transaction, and freezes its statement (partners.statements) in the same transaction.
    Idempotent for the same approver.

    Raises SettlementError: permission_denied (no partners.approve_settlement), four_eyes (the
    submitter), stale (its accruals changed since it was calculated: recalculate),
    illegal_transition (not submitted, e.g. another approver won), on_hold.
    """
    _require(actor, "partners.approve_settlement", "approving a settlement")
    _recheck_hold(settlement, actor)
    with transaction.atomic():
        settlement = _locked(settlement)
        if settlement.state == S.APPROVED and settlement.approved_by_id == actor.pk:
            return settlement
        if settlement.state != S.SUBMITTED:
            raise _illegal(settlement, "approve")
        if settlement.submitted_by_id == actor.pk:
            raise SettlementError(
                "the person who submitted a settlement cannot approve it (four-eyes)",
                code="four_eyes",
                field="approved_by",
            )
        if _digest(_recompute(settlement, actor)) != settlement.calculated_digest:
            raise SettlementError(
                f"settlement {settlement.pk} changed since it was calculated; reject it and "
                "calculate it again",
                code="stale",
            )
        settlement.approve(by=actor, at=timezone.now())
        settlement.approved_event = settlement_approved_emit(settlement=settlement, actor=actor)
        stamp(settlement, actor=actor, reason="approved (four-eyes)")
        settlement.save(update_fields=["state", "approved_by", "approved_at", "approved_event"])
        statement_freeze(settlement=settlement)  # the statement is frozen with the approval
        return settlement


def settlement_reject(*, settlement: Settlement, actor, reason: str) -> Settlement:
    """submitted → rejected with a reason. Raises SettlementError(reason_required, ...)."""
    _require(actor, "partners.approve_settlement", "rejecting a settlement")
    if not reason or not reason.strip():
        raise SettlementError(
            "a rejection needs a reason", code="reason_required", field="reason", status=400
        )
    with transaction.atomic():
        settlement = _locked(settlement)
        if settlement.state != S.SUBMITTED:
            raise _illegal(settlement, "reject")
        settlement.reject(reason=reason.strip()[:500])
        stamp(settlement, actor=actor, reason=f"rejected: {reason.strip()}")
        settlement.save(update_fields=["state", "rejection_reason"])
        return settlement


def settlement_reopen(*, settlement: Settlement, actor) -> Settlement:
    """rejected → draft, to be calculated again."""
    _require(actor, "partners.change_settlement", "reopening a settlement")
    with transaction.atomic():
        settlement = _locked(settlement)
        if settlement.state != S.REJECTED:
            raise _illegal(settlement, "reopen")
        settlement.reopen()
        stamp(settlement, actor=actor, reason="reopened after rejection")
        settlement.save(
            update_fields=["state", "submitted_by", "submitted_at", "calculated_digest"]
        )
        return settlement


def settlement_mark_paid(
    *, settlement: Settlement, actor, reference: str, paid_at: dt.datetime | None = None
) -> Settlement:
    """approved | posted → paid, as a `payout.settled` event (the console's and the API's
    "mark paid with payment reference"): the event is validated, logged and applied by
    `settlement_payout_apply`, all in one transaction. Idempotent once paid.

    Raises SettlementError: permission_denied, reference_required, illegal_transition,
    payout_refused (the event was quarantined; nothing is kept).
    """
    _require(actor, "partners.change_settlement", "marking a settlement paid")
    reference = (reference or "").strip()
    if not reference:
        raise SettlementError(
            "a payout needs the payment reference",
            code="reference_required",
            field="reference",
            status=400,
        )
    with transaction.atomic():
        settlement = _locked(settlement)
        if settlement.state == S.PAID:
            return settlement
        if settlement.state not in (S.APPROVED, S.POSTED):
            raise _illegal(settlement, "mark paid")
        event = payout_settled_emit(
            settlement=settlement,
            reference=reference,
            paid_at=paid_at or timezone.now(),
            actor=actor,
        )
        if event.state != "applied":  # quarantined: roll the event and its case back
            raise SettlementError(
                f"payout of settlement {settlement.pk} refused: {event.quarantine_detail}",
                code="payout_refused",
            )
        return Settlement.objects.get(pk=settlement.pk)


def settlement_payout_apply(*, settlement_id: int, actor, reference: str) -> Settlement:
    """approved | posted → paid for a `payout.settled` event (its handler; the event's
    ingest was authorised already). Idempotent once paid; any other state → illegal."""
    with transaction.atomic():
        settlement = Settlement.objects.select_for_update().get(pk=settlement_id)
        if settlement.state == S.PAID:
            return settlement
        if settlement.state not in (S.APPROVED, S.POSTED):
            raise _illegal(settlement, "mark paid")
        settlement.mark_paid()
        stamp(settlement, actor=actor, reason=f"paid: {reference}")
        settlement.save(update_fields=["state"])
        return settlement


def settlements_mark_posted(*, approved_event_ids: list[int], actor) -> int:
    """approved → posted for the settlements whose `settlement.approved` events' vendor bills
    the ERP now holds (erp_sync calls this when their sync jobs post). Those posted or paid
    already are left alone, so a replay or a second connection changes nothing. Returns how
    many moved."""
    moved = 0
    with transaction.atomic():
        locked = Settlement.objects.select_for_update().filter(
            approved_event_id__in=approved_event_ids, state=S.APPROVED
        )
        for settlement in locked.order_by("pk"):
            settlement.post()
            stamp(settlement, actor=actor, reason="vendor bill posted in the ERP")
            settlement.save(update_fields=["state"])
            moved += 1
    return moved
