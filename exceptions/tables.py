"""The exception console's tables (config.tables): the queue's rows and a grouped case's
blocked records. Tested equal to the template loops they replace:
tests/exceptions/test_case_tables.py."""

from django.utils import timezone
from django.utils.safestring import SafeString

from config.console_tags import when_in
from config.links import id_url_maker
from config.money_tags import money
from config.tables import DASH, Column, Table, html, or_dash
from exceptions.models import Case, CaseSeverity, CaseState

_BLOCKING = SafeString(
    ' <span class="badge" title="holds settlements of its scope">blocking</span>'
)
_ESCALATED = SafeString(' <span class="badge error" data-testid="escalated">escalated</span>')
_STATE_LABELS = dict(CaseState.choices)
_SEVERITY_LABELS = dict(CaseSeverity.choices)


def _label(labels: dict, value):
    """A choice's label as get_FOO_display gives it (the value itself when not a choice)."""
    return labels.get(value, value)


class CaseTable(Table):
    """The queue: one row per case (the query joins subject type, owner and group)."""

    def __init__(self):
        self.case_url = id_url_maker("exceptions:case-detail")
        zone = timezone.get_current_timezone()
        self.columns = (
            Column(
                "Select",
                lambda c: html(
                    '<input type="checkbox" name="ids" value="{}" aria-label="Select case {}">',
                    c.pk,
                    c.pk,
                ),
            ),
            Column("#", lambda c: html('<a href="{}">{}</a>', self.case_url(c.pk), c.pk)),
            Column("State", self._state),
            Column(
                "Severity",
                lambda c: html(
                    '<span class="badge sev-{}">{}</span>',
                    c.severity,
                    _label(_SEVERITY_LABELS, c.severity),
                ),
            ),
            Column("Kind", lambda c: c.kind_label),
            Column("What", self._what),
            Column("Scope", lambda c: f"{c.entity} {c.customer} {c.partner} {c.period}", "muted"),
            Column("Blocked records", lambda c: c.item_count if c.cause_key else DASH, "num"),
            Column("First seen", lambda c: when_in(c.first_seen_at, zone)),
            Column("Last seen", lambda c: when_in(c.last_seen_at, zone)),
            Column(
                "SLA due",
                lambda c: or_dash(when_in(c.sla_due_at, zone)),
                attrs=lambda c: {"class": "error", "title": "past its SLA"} if c.is_overdue else {},
            ),
            Column("Owner", self._owner),
        )

    @staticmethod
    def _state(case: Case):
        text = html(
            '<span class="badge state-{}">{}</span>',
            case.state,
            _label(_STATE_LABELS, case.state),
        )
        if case.is_active and case.blocking:
            text += _BLOCKING
        if case.is_active and case.escalated_at:
            text += _ESCALATED
        return SafeString(text)

    def _what(self, case: Case):
        text = html('<a href="{}">{}</a>', self.case_url(case.pk), case.title)
        if not case.cause_key:
            text += html(
                '<br><span class="muted">{} · {}</span>',
                case.subject_type.model,
                case.subject_label or case.subject_id,
            )
        return SafeString(text)

    @staticmethod
    def _owner(case: Case):
        text = html("{}", case.owner.get_username() if case.owner_id else DASH)
        if case.owner_group_id:
            text += html('<br><span class="muted">{}</span>', case.owner_group.name)
        return SafeString(text)

    def row_attrs(self, case: Case) -> dict:
        escalated = case.is_active and case.escalated_at
        return {"data-case-id": case.pk, "class": "escalated" if escalated else None}


class CaseItemTable(Table):
    """A grouped case's blocked records; rows are (item, link to its record)."""

    columns = (
        Column(
            "Record",
            lambda row: (
                html('<a href="{}">{}</a>', row[1].url, row[1].label)
                if row[1].url
                else row[1].label
            ),
        ),
        Column("Customer", lambda row: or_dash(row[0].customer)),
        Column("Period", lambda row: or_dash(row[0].period)),
        Column(
            "Value",
            lambda row: (
                DASH if row[0].value_amount is None else money(row[0].value_amount, row[0].currency)
            ),
            "num",
        ),
        Column("Since", lambda row: when_in(row[0].added_at, timezone.get_current_timezone())),
    )
