"""Write a pass's accruals idempotently: insert what is new, update what changed, delete
what no longer arises — never touching an accrual a frozen statement holds.

A handful of statements per pass (one read, one bulk insert, one bulk update, each with its
history rows); deletions, rare, go one by one so each leaves its "-" history row.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from config.history import history_attrs, stamp
from partners.choices import FROZEN_SETTLEMENT_STATES
from partners.models import Accrual, SettlementLine

COMPARED = (
    "partner_id",
    "agreement_id",
    "source_kind",
    "source_ref",
    "customer_id",
    "invoice_id",
    "payment_id",
    "accrued_on",
    "period_start",
    "period_end",
    "rate",
    "basis_amount",
    "amount",
    "currency",
    "explanation",
    "clawback_of_id",
)


@dataclass
class WriteCount:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    frozen: int = 0

    def add(self, other: WriteCount) -> WriteCount:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def frozen_q():
    """Exists(...) true for an accrual on a line of an approved, posted or paid settlement."""
    return Exists(
        SettlementLine.objects.filter(
            accrual=OuterRef("pk"), settlement__state__in=FROZEN_SETTLEMENT_STATES
        )
    )


def _delete(accrual: Accrual, *, actor, reason: str) -> None:
    """Remove an accrual that no longer arises, and its clawbacks. A line of an open
    statement that held it keeps its amount and loses the link (the statement is stale)."""
    for clawback in accrual.clawbacks.all():
        _delete(clawback, actor=actor, reason=reason)
    stamp(accrual, actor=actor, reason=reason)
    accrual.delete()


def accruals_write(desired: dict, *, scope: QuerySet, actor, reason: str) -> WriteCount:
    """Make the accruals in `scope` equal `desired` ({(rule_pk, source_key): values}).

    Frozen accruals stay as they are (counted in `frozen`). An accrual with a frozen clawback
    is kept even if it no longer arises. Idempotent: a second call writes nothing.
    """
    count = WriteCount()
    existing = {
        (a.rule_id, a.source_key): a
        for a in scope.annotate(
            is_frozen=frozen_q(),
            has_frozen_clawback=Exists(
                SettlementLine.objects.filter(
                    accrual__clawback_of=OuterRef("pk"),
                    settlement__state__in=FROZEN_SETTLEMENT_STATES,
                )
            ),
        )
    }
    to_create, to_update = [], []
    for key, values in desired.items():
        accrual = existing.pop(key, None)
        if accrual is None:
            to_create.append(Accrual(rule_id=key[0], source_key=key[1], **values))
        elif accrual.is_frozen:
            count.frozen += 1
        elif any(getattr(accrual, name) != values[name] for name in COMPARED):
            for name in COMPARED:
                setattr(accrual, name, values[name])
            to_update.append(accrual)
        else:
            count.unchanged += 1
    user = actor if actor is not None and actor.pk else None
    extra = history_attrs()
    if to_create:
        bulk_create_with_history(
            to_create,
            Accrual,
            batch_size=2000,
            default_user=user,
            default_change_reason=reason,
            custom_historical_attrs=extra,
        )
    if to_update:
        bulk_update_with_history(
            to_update,
            Accrual,
            fields=[name.removesuffix("_id") for name in COMPARED],
            batch_size=2000,
            default_user=user,
            default_change_reason=reason,
            custom_historical_attrs=extra,
        )
    for accrual in existing.values():
        if accrual.is_frozen or accrual.has_frozen_clawback:
            count.frozen += 1
            continue
        _delete(accrual, actor=user, reason=reason)
        count.deleted += 1
    count.created, count.updated = len(to_create), len(to_update)
    return count
