"""Every write on cases and their comments.

Each service runs in `transaction.atomic`, re-reads the case with `select_for_update()`,
applies one FSM transition, saves and stamps the history row with the actor and a reason.
A case already in the target state is returned unchanged (idempotent); a transition the
state machine does not allow raises `CaseError(code="illegal_transition")`.
"""

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django_fsm import TransitionNotAllowed
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from config.history import history_attrs, stamp
from exceptions.errors import CaseError
from exceptions.models import (
    ACTIVE_STATES,
    BLOCKING_SEVERITIES,
    Case,
    CaseComment,
    CaseSeverity,
    CaseState,
    sla_due,
)

SCOPE_FIELDS = ("entity", "customer", "partner", "period")


def subject_key(subject: models.Model) -> tuple[ContentType, str]:
    """The (content type, id as text) a case stores for `subject`."""
    if subject.pk is None:
        raise CaseError("a case needs a saved subject", code="unsaved_subject", status=400)
    return ContentType.objects.get_for_model(subject), str(subject.pk)


def _require_text(value: str | None, *, field: str) -> str:
    text = (value or "").strip()
    if not text:
        raise CaseError(f"a {field} is required", code=f"{field}_required", field=field, status=400)
    return text


def _locked(case: Case) -> Case:
    return Case.objects.select_for_update().get(pk=case.pk)


def _transition(case: Case, name: str, **kwargs) -> None:
    try:
        getattr(case, name)(**kwargs)
    except TransitionNotAllowed:
        raise CaseError(
            f"cannot {name} a case that is {case.state}", code="illegal_transition"
        ) from None


def case_open_or_bump(
    *,
    subject: models.Model,
    kind: str,
    severity: str,
    title: str,
    detail: dict | None = None,
    entity: str = "",
    customer: str = "",
    partner: str = "",
    period: str = "",
    blocking: bool | None = None,
    actor=None,
) -> Case:
    """Record that problem `kind` happened on `subject`; return its case.

    An open or acknowledged case for (subject, kind) gets one more occurrence (its title,
    detail, last_seen_at and any non-blank scope key are refreshed); else the latest resolved
    one is reopened with one more occurrence; else a new case is created. `blocking` defaults
    to True for high and critical severities. Never creates a duplicate: two concurrent
    callers meet on the partial unique constraint and the loser bumps the winner's case.
    Raises CaseError(code="invalid_severity").
    """
    if severity not in CaseSeverity.values:
        raise CaseError(
            f"unknown severity {severity!r}", code="invalid_severity", field="severity", status=400
        )
    subject_type, subject_id = subject_key(subject)
    values = {
        "kind": kind,
        "severity": severity,
        "title": title[:255],
        "detail": detail,
        "scope": {"entity": entity, "customer": customer, "partner": partner, "period": period},
        "blocking": blocking,
        "subject_label": str(subject)[:255],
        "actor": actor,
    }
    try:
        with transaction.atomic():
            return _open_or_bump(subject_type, subject_id, **values)
    except IntegrityError:
        # A concurrent caller inserted the active case between our read and our insert. The
        # unique index made us wait for its commit, so a second pass finds and bumps it.
        with transaction.atomic():
            return _open_or_bump(subject_type, subject_id, **values)


def _open_or_bump(
    subject_type: ContentType,
    subject_id: str,
    *,
    kind: str,
    severity: str,
    title: str,
    detail: dict | None,
    scope: dict[str, str],
    blocking: bool | None,
    subject_label: str,
    actor,
) -> Case:
    now = timezone.now()
    same = Case.objects.select_for_update().filter(
        subject_type=subject_type, subject_id=subject_id, kind=kind
    )
    case = same.filter(state__in=ACTIVE_STATES).first()
    if case is None:
        case = same.filter(state=CaseState.RESOLVED).order_by("-resolved_at", "-id").first()
        if case is not None:
            case.reopen(at=now)
            reason = f"recurred after it was resolved: {title}"
    else:
        reason = f"recurred: {title}"

    if case is None:
        case = Case(
            subject_type=subject_type,
            subject_id=subject_id,
            subject_label=subject_label,
            kind=kind,
            severity=severity,
            title=title,
            detail=detail or {},
            blocking=severity in BLOCKING_SEVERITIES if blocking is None else blocking,
            first_seen_at=now,
            last_seen_at=now,
            sla_due_at=sla_due(severity, now),
            **scope,
        )
        stamp(case, actor=actor, reason=f"opened: {title}")
        case.save(force_insert=True)
        return case

    case.occurrences += 1
    case.last_seen_at = now
    case.title = title
    case.subject_label = subject_label
    if detail is not None:
        case.detail = detail
    for field, value in scope.items():
        if value:
            setattr(case, field, value)
    stamp(case, actor=actor, reason=reason)
    case.save(
        update_fields=[
            "state",
            "occurrences",
            "last_seen_at",
            "title",
            "subject_label",
            "detail",
            *SCOPE_FIELDS,
            "resolved_at",
            "resolution",
            "sla_due_at",
        ]
    )
    return case


# The fields a bump rewrites (as _open_or_bump saves them).
_BUMP_FIELDS = [
    "state",
    "occurrences",
    "last_seen_at",
    "title",
    "subject_label",
    "detail",
    *SCOPE_FIELDS,
    "resolved_at",
    "resolution",
    "sla_due_at",
]
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
                subject_type_id=type_id, subject_id__in=ids[start : start + _BATCH], kind__in=kinds
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
                first_seen_at=now, last_seen_at=now, sla_due_at=sla_due(severity, now), **scope,
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


def case_acknowledge(*, case: Case, actor, owner=None) -> Case:
    """Take a case: open → acknowledged. `owner` defaults to the acting person.

    Idempotent on an acknowledged case. Raises CaseError(code="illegal_transition") on a
    resolved or dismissed one.
    """
    with transaction.atomic():
        case = _locked(case)
        if case.state == CaseState.ACKNOWLEDGED:
            return case
        if owner is None and actor is not None and not getattr(actor, "is_api_client", False):
            owner = actor
        _transition(case, "acknowledge", owner=owner)
        reason = f"acknowledged, owner {owner.get_username()}" if owner else "acknowledged"
        stamp(case, actor=actor, reason=reason)
        case.save(update_fields=["state", "owner"])
    return case


def _close(*, case: Case, actor, reason: str, name: str, target: str) -> Case:
    reason = _require_text(reason, field="reason")
    with transaction.atomic():
        case = _locked(case)
        if case.state == target:
            return case
        _transition(case, name, reason=reason, at=timezone.now())
        stamp(case, actor=actor, reason=f"{target}: {reason}")
        case.save(update_fields=["state", "resolution", "resolved_at"])
    return case


def case_resolve(*, case: Case, actor, reason: str) -> Case:
    """The cause is fixed: open/acknowledged → resolved, recording `reason`.

    Idempotent on a resolved case. Raises CaseError(code="reason_required") for a blank
    reason and CaseError(code="illegal_transition") on a dismissed case.
    """
    return _close(case=case, actor=actor, reason=reason, name="resolve", target=CaseState.RESOLVED)


def case_dismiss(*, case: Case, actor, reason: str) -> Case:
    """Not a problem: open/acknowledged → dismissed, recording `reason`.

    Idempotent on a dismissed case. Raises CaseError(code="reason_required") for a blank
    reason and CaseError(code="illegal_transition") on a resolved case.
    """
    return _close(case=case, actor=actor, reason=reason, name="dismiss", target=CaseState.DISMISSED)


def case_reopen(*, case: Case, actor, reason: str) -> Case:
    """Reopen a resolved case by hand (recurrences reopen through case_open_or_bump).

    Idempotent on an open case. Raises CaseError(code="reason_required") for a blank reason
    and CaseError(code="illegal_transition") on an acknowledged or dismissed case.
    """
    reason = _require_text(reason, field="reason")
    with transaction.atomic():
        case = _locked(case)
        if case.state == CaseState.OPEN:
            return case
        _transition(case, "reopen", at=timezone.now())
        stamp(case, actor=actor, reason=f"reopened: {reason}")
        case.save(update_fields=["state", "resolution", "resolved_at", "sla_due_at"])
    return case


def case_comment_add(*, case: Case, actor, body: str) -> CaseComment:
    """Add a comment by `actor` to `case` (in any state). Raises CaseError(code="body_required")."""
    body = _require_text(body, field="body")
    with transaction.atomic():
        comment = CaseComment(
            case=case, author=actor if actor is not None and actor.pk else None, body=body
        )
        stamp(comment, actor=actor, reason=f"comment added to case #{case.pk}")
        comment.save()
    return comment


def cases_resolve_for_subject(
    *, subject: models.Model, actor, reason: str, kinds: Iterable[str] | None = None
) -> int:
    """Resolve every open/acknowledged case of `subject` (only `kinds`, if given).

    For other apps once the cause is fixed (an event replayed and applied). Returns how many
    cases were resolved; 0 when none was active (idempotent). Raises
    CaseError(code="reason_required").
    """
    reason = _require_text(reason, field="reason")
    subject_type, subject_id = subject_key(subject)
    resolved_at: datetime = timezone.now()
    with transaction.atomic():
        cases = Case.objects.select_for_update().filter(
            subject_type=subject_type, subject_id=subject_id, state__in=ACTIVE_STATES
        )
        if kinds is not None:
            cases = cases.filter(kind__in=list(kinds))
        count = 0
        for case in cases:
            case.resolve(reason=reason, at=resolved_at)
            stamp(case, actor=actor, reason=f"resolved: {reason}")
            case.save(update_fields=["state", "resolution", "resolved_at"])
            count += 1
    return count


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
