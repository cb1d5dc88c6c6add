"""Escalation of cases past their SLA: marked, written in their history, the owning group
e-mailed through Django's mail backend (the beat task `exceptions.escalate_overdue`), and a
subject's cases escalated by the app that knows the wait is over."""

from collections.abc import Iterable

from django.db import models, transaction
from django.utils import timezone

from config.history import stamp
from exceptions.models import ACTIVE_STATES, Case
from exceptions.services import _locked, _require_text, subject_key


def case_escalate(*, case: Case, actor, reason: str) -> bool:
    """Mark an open/acknowledged case escalated, with `reason` in its history, and e-mail its
    owner group (on commit, through Django's mail backend). True when escalated now; False
    when it was already escalated or is closed (idempotent)."""
    reason = _require_text(reason, field="reason")
    with transaction.atomic():
        case = _locked(case)
        if case.escalated_at is not None or not case.is_active:
            return False
        case.escalated_at = timezone.now()
        stamp(case, actor=actor, reason=f"escalated: {reason}")
        case.save(update_fields=["escalated_at"])
        transaction.on_commit(lambda: _mail_escalations([case.pk]))
    return True


def cases_escalate_overdue(*, actor=None, limit: int = 500) -> int:
    """Escalate open/acknowledged cases past their SLA that are not escalated yet (the beat
    task's call): each marked, "escalated: past its SLA ..." in its history, and one e-mail
    per owner group listing its cases, sent on commit. Returns how many. Idempotent; locks
    with skip_locked so two sweeps never escalate one case twice."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Case.objects.select_for_update(skip_locked=True)
            .filter(state__in=ACTIVE_STATES, escalated_at__isnull=True, sla_due_at__lt=now)
            .order_by("sla_due_at", "pk")[:limit]
        )
        for case in due:
            case.escalated_at = now
            stamp(
                case,
                actor=actor,
                reason=f"escalated: past its SLA (due {case.sla_due_at:%Y-%m-%d %H:%M} UTC)",
            )
            case.save(update_fields=["escalated_at"])
        ids = [case.pk for case in due]
        if ids:
            transaction.on_commit(lambda: _mail_escalations(ids))
    return len(ids)


def _mail_escalations(case_ids: list[int]) -> None:
    """One e-mail per owner group naming its escalated cases (members with an address)."""
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    cases = Case.objects.filter(pk__in=case_ids).select_related("owner_group").order_by("pk")
    by_group: dict[int, list[Case]] = {}
    for case in cases:
        if case.owner_group_id is not None:
            by_group.setdefault(case.owner_group_id, []).append(case)
    users = get_user_model().objects.filter(is_active=True).exclude(email="")
    for group_cases in by_group.values():
        group = group_cases[0].owner_group
        recipients = sorted(users.filter(groups=group).values_list("email", flat=True))
        if not recipients:
            continue
        lines = [
            f"#{case.pk} {case.kind_label}: {case.title} (due {case.sla_due_at:%Y-%m-%d %H:%M})"
            for case in group_cases
        ]
        send_mail(
            subject=f"[Concord] {len(group_cases)} case(s) escalated for {group.name}",
            message="These cases passed their SLA and need a person:\n\n" + "\n".join(lines),
            from_email=None,
            recipient_list=recipients,
        )


def cases_escalate_for_subject(
    *, subject: models.Model, actor, reason: str, kinds: Iterable[str] | None = None
) -> int:
    """Escalate the open/acknowledged record-level cases of `subject` (only `kinds`, if
    given), e.g. an event that waited past its window. Returns how many were escalated."""
    subject_type, subject_id = subject_key(subject)
    cases = Case.objects.filter(
        subject_type=subject_type, subject_id=subject_id, state__in=ACTIVE_STATES, cause_key=""
    )
    if kinds is not None:
        cases = cases.filter(kind__in=list(kinds))
    return sum(case_escalate(case=case, actor=actor, reason=reason) for case in cases)
