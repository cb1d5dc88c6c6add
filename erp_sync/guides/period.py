"""The guide of a closed-period case: which period is closed in which ERP, what it holds,
what the connection's policy does, what happens if nobody acts, and the two fixes (post into
the next open period keeping the document dates; wait for the ERP to reopen the period)."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone

from erp_sync.bulk_models import SyncJobBulkAction
from erp_sync.choices import BulkActionKind, ClosedPeriodPolicy
from erp_sync.models import Connection
from erp_sync.services.period_fix import case_closed_month, case_held_jobs, case_target_period
from erp_sync.services.periods import PERIOD_RECHECK, periods_next_check
from exceptions.models import Case
from exceptions.remediation import CaseGuide
from exceptions.selectors import case_item_totals

POST_PERMISSION = "erp_sync.post_next_open_syncjob"
WAIT_PERMISSION = "exceptions.change_case"

POLICY_WORDS = {
    ClosedPeriodPolicy.HOLD: (
        "Hold for a person: a document dated in a closed period waits here until someone decides."
    ),
    ClosedPeriodPolicy.POST_NEXT_OPEN: (
        "Post to the next month, keeping the document date. These documents are held "
        "because the next month is closed too."
    ),
}


def closed_period_guide(case: Case, connection: Connection, user) -> CaseGuide:
    """The guide's context; asks the ERP which period is next open (outside transactions)."""
    closed = case_closed_month(case)
    held = case_held_jobs(case).count()
    active = case.is_active
    target, named_by_erp = case_target_period(case, connection) if active else (None, False)
    next_check = periods_next_check(connection) if active else None
    running = (
        SyncJobBulkAction.objects.filter(case=case, kind=BulkActionKind.POST_NEXT_OPEN)
        .order_by("-id")
        .first()
    )
    return CaseGuide(
        template="erp_sync/guides/closed_period.html",
        context={
            "case": case,
            "connection": connection,
            "entity": connection.entity.code,
            "closed_month": closed,
            "held": held,
            "totals": case_item_totals(case),
            "policy": connection.get_closed_period_policy_display(),
            "policy_words": POLICY_WORDS.get(connection.closed_period_policy, ""),
            "target": target,
            "target_named_by_erp": named_by_erp,
            "next_check": next_check,
            "recheck_minutes": int(PERIOD_RECHECK.total_seconds() // 60),
            "checked_now": next_check is None or next_check <= timezone.now(),
            "last_action": running,
            "can_post": active and held > 0 and user.has_perm(POST_PERMISSION),
            "can_wait": active and case.state == "open" and user.has_perm(WAIT_PERMISSION),
            "post_url": reverse("erp_sync:closed-period-post", args=[case.pk]),
            "wait_url": reverse("erp_sync:closed-period-wait", args=[case.pk]),
        },
    )
