"""Every write on cases and their comments.

Each service runs in `transaction.atomic`, re-reads the case with `select_for_update()`,
applies one FSM transition, saves and stamps the history row with the actor and a reason.
A case already in the target state is returned unchanged (idempotent); a transition the
state machine does not allow raises `CaseError(code="illegal_transition")`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django_fsm import TransitionNotAllowed

from config.history import stamp
from exceptions.errors import CaseError
from exceptions.models import (
    ACTIVE_STATES,
    BLOCKING_SEVERITIES,
    Case,
    CaseComment,
    CaseItem,
    CaseKindOwner,
    CaseSeverity,
    CaseState,
    SavedCaseFilter,
    sla_due,
)

SCOPE_FIELDS = ("entity", "customer", "partner", "period")
# The fields a bump of an open case rewrites (case_open_or_bump and the set-based writers).
BUMP_FIELDS = (
    "state", "occurrences", "last_seen_at", "title", "subject_label", "detail", *SCOPE_FIELDS,
    "resolved_at", "resolution", "sla_due_at",
)  # fmt: skip


@dataclass(frozen=True)
class BlockedRecord:
    """A record a grouped case's cause blocks: becomes (or refreshes) one of its items."""

    subject: models.Model
    label: str = ""
    value_amount: Decimal | None = None
    currency: str = ""
    customer: str = ""
    period: str = ""


def owner_group_for(kind: str) -> Group | None:
    """The group that owns cases of `kind`: its CaseKindOwner row, else the group named
    settings.CONCORD_CASE_DEFAULT_GROUP, else None. One query."""
    owner = CaseKindOwner.objects.filter(kind=kind, group_id=OuterRef("pk"))
    return (
        Group.objects.annotate(owns=Exists(owner))
        .filter(Q(owns=True) | Q(name=settings.CONCORD_CASE_DEFAULT_GROUP))
        .order_by("-owns", "pk")
        .first()
    )


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
    cause_key: str = "",
    item: BlockedRecord | None = None,
    due_at: datetime | None = None,
) -> Case:
    """Record that problem `kind` happened on `subject`; return its case.

    Record-level (blank `cause_key`): the case is (subject, kind)'s. Grouped by cause
    (`cause_key` set, `subject` the thing the cause hangs on, e.g. the ERP connection): the
    case is (kind, cause_key)'s and `item`, the record it blocks this time, is added to its
    items (or un-cleared) and counted.

    An open or acknowledged case gets one more occurrence (its title, detail, last_seen_at
    and any non-blank scope key are refreshed); else the latest resolved one is reopened with
    one more occurrence; else a new case is created, routed to its kind's owning group, due
    at `due_at` (default: the severity's SLA). `blocking` defaults to True for high and
    critical severities. Never creates a duplicate: two concurrent callers meet on the
    partial unique constraints and the loser bumps the winner's case.
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
        "cause_key": cause_key[:255],
        "item": item,
        "due_at": due_at,
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
    cause_key: str,
    item: BlockedRecord | None,
    due_at: datetime | None,
) -> Case:
    now = timezone.now()
    if cause_key:
        same = Case.objects.select_for_update().filter(kind=kind, cause_key=cause_key)
    else:
        same = Case.objects.select_for_update().filter(
            subject_type=subject_type, subject_id=subject_id, kind=kind, cause_key=""
        )
    case = same.filter(state__in=ACTIVE_STATES).first()
    if case is None:
        case = same.filter(state=CaseState.RESOLVED).order_by("-resolved_at", "-id").first()
        if case is not None:
            case.reopen(at=now)
            if due_at is not None:
                case.sla_due_at = due_at
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
            sla_due_at=due_at or sla_due(severity, now),
            cause_key=cause_key,
            item_count=1 if item is not None else 0,
            owner_group=owner_group_for(kind),
            **scope,
        )
        opened = f"opened: {title}" + (f" ({item.label or item.subject})" if item else "")
        stamp(case, actor=actor, reason=opened)
        case.save(force_insert=True)
        if item is not None:
            _item_add(case, item, now=now)
        return case

    if item is not None and _item_add(case, item, now=now):
        case.item_count += 1
        reason = f"{reason} (+ {item.label or item.subject})"
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
    case.save(update_fields=[*BUMP_FIELDS, "item_count"])
    return case


def _item_add(case: Case, item: BlockedRecord, *, now: datetime) -> bool:
    """Add `item` to `case` (or un-clear it); True when it was not an open item before."""
    item_type, item_id = subject_key(item.subject)
    values = {
        "label": item.label[:255],
        "value_amount": item.value_amount,
        "currency": item.currency,
        "customer": item.customer,
        "period": item.period,
    }
    existing = CaseItem.objects.filter(
        case=case, subject_type=item_type, subject_id=item_id
    ).first()
    if existing is None:
        CaseItem.objects.create(
            case=case, subject_type=item_type, subject_id=item_id, added_at=now, **values
        )
        return True
    was_cleared = existing.cleared_at is not None
    for field, value in values.items():
        setattr(existing, field, value)
    existing.cleared_at = None
    existing.save(update_fields=[*values, "cleared_at"])
    return was_cleared


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


def _kinds(queryset, kinds: Iterable[str] | None):
    return queryset if kinds is None else queryset.filter(kind__in=list(kinds))


def cases_resolve_for_subject(
    *, subject: models.Model, actor, reason: str, kinds: Iterable[str] | None = None
) -> int:
    """The cause is fixed for `subject`: resolve its open/acknowledged record-level cases and
    clear it from the grouped cases that list it as a blocked item (only `kinds`, if given).

    A grouped case whose last open item clears is resolved ("all N blocked records
    cleared"); one that still blocks others keeps its state, one item fewer, with a history
    row. For other apps once the cause is fixed (an event replayed and applied, a job
    posted). Returns how many cases were resolved; 0 when none was active (idempotent). Two
    indexed queries when there is nothing to do. Raises CaseError(code="reason_required").
    """
    reason = _require_text(reason, field="reason")
    subject_type, subject_id = subject_key(subject)
    resolved_at: datetime = timezone.now()
    with transaction.atomic():
        open_items = CaseItem.objects.filter(
            subject_type=subject_type, subject_id=subject_id, cleared_at__isnull=True
        )
        # Two indexed reads rather than one OR over a subquery, which PostgreSQL would answer
        # by scanning every case.
        cases = list(
            _kinds(
                Case.objects.select_for_update().filter(
                    subject_type=subject_type,
                    subject_id=subject_id,
                    cause_key="",
                    state__in=ACTIVE_STATES,
                ),
                kinds,
            )
        )
        grouped_ids = list(open_items.values_list("case_id", flat=True).distinct())
        if grouped_ids:
            cases += _kinds(
                Case.objects.select_for_update().filter(
                    pk__in=grouped_ids, state__in=ACTIVE_STATES
                ),
                kinds,
            )
        count = 0
        for case in sorted(cases, key=lambda c: c.pk):
            if case.cause_key:
                cleared = open_items.filter(case=case).update(cleared_at=resolved_at)
                case.item_count = max(case.item_count - cleared, 0)
                if case.item_count:
                    stamp(case, actor=actor, reason=f"{subject} cleared: {reason}")
                    case.save(update_fields=["item_count"])
                    continue
                case.resolve(reason=f"all blocked records cleared (last: {reason})", at=resolved_at)
                stamp(case, actor=actor, reason=f"resolved: all blocked records cleared: {reason}")
                case.save(update_fields=["state", "resolution", "resolved_at", "item_count"])
            else:
                case.resolve(reason=reason, at=resolved_at)
                stamp(case, actor=actor, reason=f"resolved: {reason}")
                case.save(update_fields=["state", "resolution", "resolved_at"])
            count += 1
    return count


def case_assign(*, case: Case, actor, owner, reason: str = "") -> Case:
    """Make `owner` (a person, or None to unassign) the owner of an open/acknowledged case.

    Idempotent when `owner` already owns it. Raises CaseError(code="illegal_transition") on
    a closed case.
    """
    with transaction.atomic():
        case = _locked(case)
        if case.owner_id == (owner.pk if owner is not None else None):
            return case
        if not case.is_active:
            raise CaseError(f"cannot assign a case that is {case.state}", code="illegal_transition")
        case.owner = owner
        who = owner.get_username() if owner is not None else "nobody"
        text = f"assigned to {who}" + (f": {reason}" if reason else "")
        stamp(case, actor=actor, reason=text)
        case.save(update_fields=["owner"])
    return case


BULK_ACTIONS = ("acknowledge", "assign", "resolve", "dismiss")


def cases_bulk_act(
    *, cases: Iterable[Case], action: str, actor, reason: str, owner=None
) -> dict[str, int]:
    """Apply one action to many cases in ONE transaction, each with a history row naming the
    actor and `reason` ("bulk <action>: <reason>").

    `action` is acknowledge, assign (to `owner`), resolve or dismiss. A case already in the
    target is counted `unchanged`; one the state machine does not allow the action on is
    counted `skipped` (the rest still happen). Returns {"done", "unchanged", "skipped"}.
    Raises CaseError(code="reason_required") and CaseError(code="invalid_action").
    """
    if action not in BULK_ACTIONS:
        raise CaseError(
            f"unknown action {action!r}", code="invalid_action", field="action", status=400
        )
    reason = _require_text(reason, field="reason")
    counts = {"done": 0, "unchanged": 0, "skipped": 0}
    text = f"bulk {action}: {reason}"
    with transaction.atomic():
        ids = sorted({case.pk for case in cases})
        for case in Case.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
            outcome = _bulk_one(case, action, actor=actor, reason=reason, text=text, owner=owner)
            counts[outcome] += 1
    return counts


def _bulk_one(case: Case, action: str, *, actor, reason: str, text: str, owner) -> str:
    target = {
        "acknowledge": CaseState.ACKNOWLEDGED,
        "resolve": CaseState.RESOLVED,
        "dismiss": CaseState.DISMISSED,
    }.get(action)
    if action == "assign":
        if case.owner_id == (owner.pk if owner is not None else None):
            return "unchanged"
        if not case.is_active:
            return "skipped"
        case.owner = owner
        stamp(case, actor=actor, reason=text)
        case.save(update_fields=["owner"])
        return "done"
    if case.state == target:
        return "unchanged"
    try:
        if action == "acknowledge":
            case.acknowledge(owner=owner or (actor if _is_person(actor) else None))
        else:
            getattr(case, action)(reason=reason, at=timezone.now())
    except TransitionNotAllowed:
        return "skipped"
    stamp(case, actor=actor, reason=text)
    case.save(update_fields=["state", "owner", "resolution", "resolved_at"])
    return "done"


def _is_person(actor) -> bool:
    return actor is not None and actor.pk and not getattr(actor, "is_api_client", False)


def saved_filter_save(*, user, name: str, query: str) -> SavedCaseFilter:
    """Save (or overwrite) `user`'s queue filter `name` with `query` (a query string)."""
    name = _require_text(name, field="name")[:80]
    saved, _ = SavedCaseFilter.objects.update_or_create(
        user=user, name=name, defaults={"query": (query or "")[:2000]}
    )
    return saved


def saved_filter_delete(*, user, pk: int) -> bool:
    """Delete `user`'s saved filter `pk`; False when it is not theirs or gone."""
    deleted, _ = SavedCaseFilter.objects.filter(user=user, pk=pk).delete()
    return bool(deleted)
