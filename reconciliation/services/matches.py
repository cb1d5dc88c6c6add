"""A person's decisions on suggested matches: confirm or reject, one by one or in bulk.

A decision is kept on the match and carries over to later runs of the same entity, period
and scope (engine_sql.match_confirmed pairs a confirmed pair again; a rejected pair is never
suggested again).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from reconciliation.choices import PAIRED_STATUSES, BreakKind, BreakState, MatchStatus
from reconciliation.errors import ReconciliationError
from reconciliation.models import Break, Match
from reconciliation.services.breaks import break_key, breaks_resolve


def _ids(matches: Iterable[Match | int]) -> list[int]:
    return sorted({m.pk if isinstance(m, Match) else int(m) for m in matches})


def _locked(ids: list[int]) -> list[Match]:
    found = list(
        Match.objects.select_for_update(of=("self",))
        .select_related("run", "billing_row", "erp_row")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    missing = set(ids) - {m.pk for m in found}
    if missing:
        raise ReconciliationError(
            f"no such match: {', '.join(map(str, sorted(missing)))}",
            code="match_not_found", field="matches", status=400,
        )  # fmt: skip
    return found


def _person(actor):
    return actor if actor is not None and actor.pk else None


def suggestions_confirm(*, matches: Iterable[Match | int], actor, note: str = "") -> list[Match]:
    """Confirm suggested matches: the two sides are the same document.

    All or nothing. Confirming one rejects the other suggestions of its two rows in the run,
    and resolves the missing_in_erp / missing_in_billing breaks (and cases) of its two sides;
    the next run pairs them again and classifies any difference. Idempotent on a confirmed
    match. Raises ReconciliationError: `match_not_found`, `illegal_transition` (rejected or
    not a suggestion), `already_paired` (a side is paired by a rule or another confirmation).
    """
    ids = _ids(matches)
    with transaction.atomic():
        found = _locked(ids)
        for match in found:
            if match.status == MatchStatus.CONFIRMED:
                continue
            # An earlier confirmation of this call may have superseded it.
            status = Match.objects.filter(pk=match.pk).values_list("status", flat=True).get()
            if status != MatchStatus.SUGGESTED:
                raise ReconciliationError(
                    f"match #{match.pk} is {status}, not a suggestion to confirm",
                    code="illegal_transition",
                )
            paired = Match.objects.filter(run=match.run, status__in=PAIRED_STATUSES).filter(
                Q(billing_row=match.billing_row) | Q(erp_row=match.erp_row)
            )
            if paired.exists():
                raise ReconciliationError(
                    f"match #{match.pk}: {match.billing_row} or {match.erp_row} is already "
                    "paired in this run",
                    code="already_paired",
                )
            match.confirm(by=_person(actor), note=note)
            match.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
            _supersede(match, actor=actor)
            _resolve_missing(match, actor=actor)
    return found


def _supersede(match: Match, *, actor) -> None:
    others = Match.objects.select_for_update().filter(
        Q(billing_row=match.billing_row) | Q(erp_row=match.erp_row),
        run=match.run,
        status=MatchStatus.SUGGESTED,
    )
    for other in others.exclude(pk=match.pk):
        other.reject(by=_person(actor), note=f"superseded by match #{match.pk}")
        other.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])


def _resolve_missing(match: Match, *, actor) -> None:
    run = match.run
    keys = [
        break_key(BreakKind.MISSING_IN_ERP, match.billing_row, None),
        break_key(BreakKind.MISSING_IN_BILLING, None, match.erp_row),
    ]
    breaks = Break.objects.filter(
        entity_id=run.entity_id,
        period_start=run.period_start,
        period_end=run.period_end,
        scope=run.scope,
        key__in=keys,
    ).exclude(state=BreakState.RESOLVED)
    breaks_resolve(
        breaks=list(breaks), actor=actor, reason=f"suggested match #{match.pk} confirmed"
    )


def suggestions_reject(*, matches: Iterable[Match | int], actor, note: str = "") -> list[Match]:
    """Reject suggested matches: the two sides are different documents (never suggested
    again). All or nothing; idempotent on a rejected match. Raises ReconciliationError
    `match_not_found`, `illegal_transition` (a confirmed or rule match)."""
    ids = _ids(matches)
    with transaction.atomic():
        found = _locked(ids)
        for match in found:
            if match.status == MatchStatus.REJECTED:
                continue
            if match.status != MatchStatus.SUGGESTED:
                raise ReconciliationError(
                    f"match #{match.pk} is {match.status}, not a suggestion to reject",
                    code="illegal_transition",
                )
            match.reject(by=_person(actor), note=note)
            match.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    return found
