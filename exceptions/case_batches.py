"""Cases opened, bumped and resolved for many subjects at once, set-based (reconciliation's
breaks): the same answer as `exceptions.services.case_open_or_bump` /
`cases_resolve_for_subject` per subject, in a few statements."""

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, models, transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from config.history import history_attrs, stamp
from exceptions.errors import CaseError
from exceptions.models import (
    ACTIVE_STATES,
    BLOCKING_SEVERITIES,
    Case,
    CaseSeverity,
    CaseState,
    sla_due,
)
from exceptions.services import (
    BUMP_FIELDS,
    SCOPE_FIELDS,
    _require_text,
    case_open_or_bump,
    owner_group_for,
    subject_key,
)

_BUMP_FIELDS = list(BUMP_FIELDS)
# Rows per statement for the set-based writers (and per `IN (...)` look-up: SQLite's limit).
_BATCH = 2000


def cases_open_or_bump_many(
    *, items: Sequence[tuple[models.Model, dict]], actor=None
) -> list[Case]:
    """`case_open_or_bump` for many (subject, keyword arguments) at once, set-based.

    The same answer as calling it per item (same cases, states, occurrences, history
    reasons), in a few statements: one locked read of the subjects' cases per batch, one
    bulk insert and one bulk update (each with its history rows). If a concurrent caller
    inserts an active case meanwhile (the partial unique constraint), the batch is undone
    and every item goes through `case_open_or_bump` one by one.
    Raises CaseError(code="invalid_severity").
    """
    prepared = []
    for subject, values in items:
        if values["severity"] not in CaseSeverity.values:
            raise CaseError(
                f"unknown severity {values['severity']!r}", code="invalid_severity",
                field="severity", status=400,
            )  # fmt: skip
        subject_type, subject_id = subject_key(subject)
        prepared.append((subject_type, subject_id, str(subject)[:255], values))
    keys = {(t.pk, i, v["kind"]) for t, i, _, v in prepared}
    if len(keys) == len(prepared):
        try:
            with transaction.atomic():
                return _open_or_bump_many(prepared, actor=actor)
        except IntegrityError:
            pass
    return [case_open_or_bump(subject=s, actor=actor, **values) for s, values in items]


def _open_or_bump_many(prepared: list, *, actor) -> list[Case]:
    now = timezone.now()
    found: dict[tuple, Case] = {}
    by_type: dict[int, list[str]] = {}
    for subject_type, subject_id, _, _ in prepared:
        by_type.setdefault(subject_type.pk, []).append(subject_id)
    kinds = sorted({values["kind"] for _, _, _, values in prepared})
    for type_id, ids in by_type.items():
        for start in range(0, len(ids), _BATCH):
            cases = Case.objects.select_for_update().filter(
                subject_type_id=type_id,
                subject_id__in=ids[start : start + _BATCH],
                kind__in=kinds,
                cause_key="",  # record-level cases, as _open_or_bump looks them up
            )
            for case in cases.exclude(state=CaseState.DISMISSED).order_by("id"):
                key = (case.subject_type_id, case.subject_id, case.kind)
                held = found.get(key)
                # The active case, else the latest resolved one (as _open_or_bump picks).
                if held is None or (
                    held.state not in ACTIVE_STATES
                    and (case.state in ACTIVE_STATES or case.resolved_at >= held.resolved_at)
                ):
                    found[key] = case
    owners = {kind: owner_group_for(kind) for kind in kinds}  # routed as _open_or_bump does
    created: list[Case] = []
    bumped: list[Case] = []
    result: list[Case] = []
    for subject_type, subject_id, label, values in prepared:
        kind, severity, title = values["kind"], values["severity"], values["title"][:255]
        detail, blocking = values.get("detail"), values.get("blocking")
        scope = {name: values.get(name, "") for name in SCOPE_FIELDS}
        case = found.get((subject_type.pk, subject_id, kind))
        if case is None:
            case = Case(
                subject_type=subject_type, subject_id=subject_id, subject_label=label,
                kind=kind, severity=severity, title=title, detail=detail or {},
                blocking=severity in BLOCKING_SEVERITIES if blocking is None else blocking,
                first_seen_at=now, last_seen_at=now, sla_due_at=sla_due(severity, now),
                owner_group=owners[kind], **scope,
            )  # fmt: skip
            stamp(case, actor=actor, reason=f"opened: {title}")
            created.append(case)
        else:
            reason = f"recurred: {title}"
            if case.state == CaseState.RESOLVED:
                case.reopen(at=now)
                reason = f"recurred after it was resolved: {title}"
            case.occurrences += 1
            case.last_seen_at, case.title, case.subject_label = now, title, label
            if detail is not None:
                case.detail = detail
            for field, value in scope.items():
                if value:
                    setattr(case, field, value)
            stamp(case, actor=actor, reason=reason)
            bumped.append(case)
        result.append(case)
    extra = history_attrs()
    if created:
        bulk_create_with_history(created, Case, batch_size=_BATCH, custom_historical_attrs=extra)
    if bumped:
        bulk_update_with_history(
            bumped, Case, fields=_BUMP_FIELDS, batch_size=_BATCH, custom_historical_attrs=extra
        )
    return result


def cases_resolve_for_subjects(*, subjects: Sequence[models.Model], actor, reason: str) -> int:
    """`cases_resolve_for_subject` for many subjects at once, set-based (a locked read per
    batch, one bulk update with its history rows). Returns how many cases were resolved."""
    reason = _require_text(reason, field="reason")
    resolved_at: datetime = timezone.now()
    by_type: dict[int, list[str]] = {}
    for subject in subjects:
        subject_type, subject_id = subject_key(subject)
        by_type.setdefault(subject_type.pk, []).append(subject_id)
    with transaction.atomic():
        resolved: list[Case] = []
        for type_id, ids in by_type.items():
            for start in range(0, len(ids), _BATCH):
                for case in Case.objects.select_for_update().filter(
                    subject_type_id=type_id,
                    subject_id__in=ids[start : start + _BATCH],
                    state__in=ACTIVE_STATES,
                ):
                    case.resolve(reason=reason, at=resolved_at)
                    stamp(case, actor=actor, reason=f"resolved: {reason}")
                    resolved.append(case)
        if resolved:
            bulk_update_with_history(
                resolved,
                Case,
                fields=["state", "resolution", "resolved_at"],
                batch_size=_BATCH,
                custom_historical_attrs=history_attrs(),
            )
    return len(resolved)
