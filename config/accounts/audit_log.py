"""The global audit log: every history row (django-simple-history) of every audited model,
plus the security events, newest first, in one read-only stream.

Sources are found through the app registry (no app is imported: config sits below them).
Each page costs one indexed query per source (history_date is indexed on every history
table, occurred_at on security events), whatever the number of rows: each source yields at
most a page after the keyset cursor, and the rows are merged in Python. The cursor is the
last row's (time, source, id), so a page never skips or repeats a row when rows arrive.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db.models import Model, Q
from django.urls import NoReverseMatch, reverse

from config.accounts.models import SecurityEvent
from config.console import actor_label

SECURITY = "security event"
PAGE_SIZE = 50
# Record pages by model label: (URL name, the field of the history row the URL takes).
RECORD_PAGES = {
    "billing.financeevent": ("billing:event-detail", "id"),
    "billing.invoice": ("billing:invoice-detail", "invoice_id"),
    "erp_sync.syncjob": ("erp_sync:job-detail", "id"),
    "erp_sync.mappingrule": ("erp_sync:rule-detail", "id"),
    "erp_sync.connection": ("erp_sync:connection-detail", "id"),
    "exceptions.case": ("exceptions:case-detail", "id"),
    "partners.partner": ("partners:partner-detail", "id"),
    "partners.agreement": ("partners:agreement-detail", "id"),
    "partners.settlement": ("partners:settlement-detail", "id"),
    "reconciliation.reconciliationrun": ("reconciliation:run-detail", "id"),
    "reconciliation.break": ("reconciliation:break-detail", "id"),
}
_ACTIONS = {"+": "Created", "~": "Changed", "-": "Deleted"}


@dataclass
class AuditRow:
    at: datetime
    source: str  # the model's label ("erp_sync.mappingrule") or SECURITY
    row_id: int
    model: str  # for people: "Mapping rule", "Security event"
    record: str
    record_url: str
    actor: str
    action: str
    reason: str
    correlation_id: str


def audited_models() -> dict[str, tuple[type[Model], type[Model]]]:
    """label → (model, its history model) for every model with django-simple-history."""
    found = {}
    for model in apps.get_models():
        manager_name = getattr(model._meta, "simple_history_manager_attribute", None)
        if manager_name and not model._meta.label_lower.startswith("historical"):
            history = getattr(model, manager_name).model
            found[model._meta.label_lower] = (model, history)
    return dict(sorted(found.items()))


def model_choices() -> list[tuple[str, str]]:
    """(source, label) for the model filter: every audited model, then security events."""
    choices = [
        (label, str(model._meta.verbose_name).capitalize())
        for label, (model, _history) in audited_models().items()
    ]
    return [*sorted(choices, key=lambda c: c[1]), (SECURITY, "Security event")]


def encode_cursor(row: AuditRow) -> str:
    raw = f"{row.at.isoformat()}|{row.source}|{row.row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[datetime, str, int] | None:
    """(time, source, id) of a cursor; None for a missing or malformed one (first page)."""
    try:
        at, source, row_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return datetime.fromisoformat(at), source, int(row_id)
    except (ValueError, UnicodeDecodeError):
        return None


def _after(cursor, source: str, date_field: str, id_field: str) -> Q:
    """Rows of `source` after `cursor` in the order (time desc, source asc, id desc)."""
    if cursor is None:
        return Q()
    at, cursor_source, row_id = cursor
    before = Q(**{f"{date_field}__lt": at})
    if source < cursor_source:
        return before
    if source > cursor_source:
        return before | Q(**{date_field: at})
    return before | Q(**{date_field: at, f"{id_field}__lt": row_id})


def _record_url(source: str, row) -> str:
    page = RECORD_PAGES.get(source)
    if page is None:
        return ""
    try:
        return reverse(page[0], args=[getattr(row, page[1])])
    except NoReverseMatch:
        return ""


def _history_rows(source, model, history, filters, cursor, limit) -> list[AuditRow]:
    queryset = history.objects.select_related("history_user").filter(
        _after(cursor, source, "history_date", "history_id")
    )
    if filters.get("actor") is not None:
        queryset = queryset.filter(history_user_id__in=filters["actor"])
    if filters.get("record"):
        pk_name = model._meta.pk.attname
        try:
            value = model._meta.pk.to_python(filters["record"])
        except Exception:  # a record id that cannot be this model's key matches nothing
            return []
        queryset = queryset.filter(**{pk_name: value})
    if filters.get("since"):
        queryset = queryset.filter(history_date__gte=filters["since"])
    if filters.get("until"):
        queryset = queryset.filter(history_date__lt=filters["until"])
    queryset = queryset.order_by("-history_date", "-history_id")[:limit]
    name = str(model._meta.verbose_name).capitalize()
    return [
        AuditRow(
            at=row.history_date,
            source=source,
            row_id=row.history_id,
            model=name,
            record=str(getattr(row, model._meta.pk.attname)),
            record_url=_record_url(source, row),
            actor=actor_label(row.history_user),
            action=_ACTIONS.get(row.history_type, row.history_type),
            reason=row.history_change_reason or "",
            correlation_id=getattr(row, "correlation_id", "") or "",
        )
        for row in queryset
    ]


def _security_rows(filters, cursor, limit) -> list[AuditRow]:
    queryset = SecurityEvent.objects.select_related("user").filter(
        _after(cursor, SECURITY, "occurred_at", "id")
    )
    if filters.get("actor") is not None:
        queryset = queryset.filter(user_id__in=filters["actor"])
    if filters.get("record"):
        return []  # security events are about people, not records
    if filters.get("since"):
        queryset = queryset.filter(occurred_at__gte=filters["since"])
    if filters.get("until"):
        queryset = queryset.filter(occurred_at__lt=filters["until"])
    queryset = queryset.order_by("-occurred_at", "-id")[:limit]
    return [
        AuditRow(
            at=event.occurred_at,
            source=SECURITY,
            row_id=event.pk,
            model="Security event",
            record=f"{event.method} {event.path}".strip(),
            record_url="",
            actor=actor_label(event.user) if event.user else (event.username or "—"),
            action=event.get_kind_display().capitalize(),
            reason="",
            correlation_id=event.correlation_id,
        )
        for event in queryset
    ]


def audit_log_page(
    *, filters: dict, cursor: str = "", page_size: int = PAGE_SIZE
) -> tuple[list[AuditRow], str]:
    """One page of the audit log and the cursor of the next one ("" on the last page).

    `filters`: `model` (a source from model_choices, else every source), `actor` (a list of
    user ids, or None for anyone), `record` (the record's id, with a model), `since` and
    `until` (aware datetimes). One query per source read.
    """
    position = decode_cursor(cursor) if cursor else None
    wanted = filters.get("model") or ""
    rows: list[AuditRow] = []
    for source, (model, history) in audited_models().items():
        if wanted in ("", source):
            rows += _history_rows(source, model, history, filters, position, page_size + 1)
    if wanted in ("", SECURITY):
        rows += _security_rows(filters, position, page_size + 1)
    rows.sort(key=lambda r: (-r.at.timestamp(), r.source, -r.row_id))
    page = rows[:page_size]
    next_cursor = encode_cursor(page[-1]) if len(rows) > page_size else ""
    return page, next_cursor
