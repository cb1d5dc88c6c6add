"""Holds: a settlement waits while a blocking case touches the partner's customers.

A case blocks a settlement when it is open or acknowledged, names (in its `customer` scope)
a customer attributed to the partner during the period or one the period's accruals came
from, falls in one of the period's months (or names no period) — for a case grouped by
cause, one of its open blocked records does (exceptions.CaseItem) — and either is flagged
`blocking` (dead ERP postings, high-severity cases) or is on a quarantined event.

Chosen over a signal: exceptions sends none, and its services are called from many places.
So the settlement services re-check before they act (calculate, submit, approve) and the
periodic task `partners.settlements_recheck_holds` (every few minutes) releases what has
cleared — a settlement is released at most one period of that task after its cases close.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q, QuerySet

from billing.models import Customer, FinanceEvent
from config.history import stamp
from exceptions.models import ACTIVE_STATES, Case, CaseItem
from partners.choices import SettlementState
from partners.models import Accrual, Attribution, Settlement
from partners.services.periods import months_of


def _customer_ids(settlement: Settlement) -> set[str]:
    """customer_id strings the partner earns from in the settlement's period."""
    live = Attribution.objects.filter(
        partner_id=settlement.partner_id, valid_from__lte=settlement.period_end
    ).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=settlement.period_start))
    pks = set(live.exclude(customer=None).values_list("customer_id", flat=True))
    pks |= set(live.exclude(subscription=None).values_list("subscription__customer_id", flat=True))
    pks |= set(
        Accrual.objects.filter(
            partner_id=settlement.partner_id,
            period_start=settlement.period_start,
            customer__isnull=False,
        ).values_list("customer_id", flat=True)
    )
    return set(Customer.objects.filter(pk__in=pks).values_list("customer_id", flat=True))


def blocking_cases(settlement: Settlement) -> QuerySet[Case]:
    """The open cases that hold `settlement` (see the module docstring)."""
    months = months_of(settlement.period_start, settlement.period_end)
    on_events = ContentType.objects.get_for_model(FinanceEvent)
    customers = _customer_ids(settlement)
    # A case grouped by cause holds through the blocked records it lists (their own scope).
    items = CaseItem.objects.filter(
        cleared_at__isnull=True, customer__in=customers, period__in=[*months, ""]
    )
    grouped = list(items.values_list("case_id", flat=True).distinct())
    return (
        Case.objects.filter(state__in=ACTIVE_STATES)
        .filter(
            Q(customer__in=customers, period__in=[*months, ""]) | Q(blocking=True, pk__in=grouped)
        )
        .filter(Q(blocking=True) | Q(subject_type=on_events))
        .order_by("id")
    )


def _reason(cases: list[Case]) -> str:
    shown = ", ".join(f"#{case.pk} {case.kind} ({case.customer})" for case in cases[:5])
    more = f" and {len(cases) - 5} more" if len(cases) > 5 else ""
    return f"blocking cases open: {shown}{more}"[:500]


def settlement_hold_check(*, settlement: Settlement, actor) -> Settlement:
    """Hold a calculated/submitted settlement that a blocking case touches; release an
    on-hold one whose cases all closed. Idempotent; the caller holds the row lock."""
    cases = list(blocking_cases(settlement))
    if cases and settlement.state in (SettlementState.CALCULATED, SettlementState.SUBMITTED):
        settlement.hold(reason=_reason(cases))
        stamp(settlement, actor=actor, reason=f"held: {_reason(cases)}")
        settlement.save(update_fields=["state", "held_from", "hold_reason"])
    elif not cases and settlement.state == SettlementState.ON_HOLD:
        settlement.release()
        stamp(settlement, actor=actor, reason="released: its blocking cases are closed")
        settlement.save(update_fields=["state", "held_from", "hold_reason"])
    return settlement


def settlements_recheck_holds(*, actor=None) -> int:
    """Hold or release every settlement that can be (periodic). Returns how many changed."""
    changed = 0
    open_states = [SettlementState.CALCULATED, SettlementState.SUBMITTED, SettlementState.ON_HOLD]
    for pk in Settlement.objects.filter(state__in=open_states).values_list("pk", flat=True):
        with transaction.atomic():
            settlement = Settlement.objects.select_for_update().filter(pk=pk).first()
            if settlement is None or settlement.state not in open_states:
                continue
            before = settlement.state
            settlement_hold_check(settlement=settlement, actor=actor)
            changed += settlement.state != before
    return changed
