"""The queue's and a grouped case's rows, written by exceptions.tables in Python (for speed:
config/tables.py), print what the pages' `{% for %}` loops printed: the loops are kept here
as the reference and both are rendered for random cases (titles and labels with HTML in
them, every state, severity, escalation, owner and SLA), whitespace between tags aside."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.template import Context, Template
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.accounts.models import User
from exceptions.kinds import CaseKind
from exceptions.models import Case, CaseItem, CaseSeverity, CaseState
from exceptions.tables import CaseItemTable, CaseTable

QUEUE_LOOP = Template(
    """{% for case in cases %}{% url 'exceptions:case-detail' case.pk as case_url %}{% with active=case.is_active %}
    <tr data-case-id="{{ case.pk }}"{% if case.escalated_at and active %} class="escalated"{% endif %}>
      <td><input type="checkbox" name="ids" value="{{ case.pk }}" aria-label="Select case {{ case.pk }}"></td>
      <td><a href="{{ case_url }}">{{ case.pk }}</a></td>
      <td><span class="badge state-{{ case.state }}">{{ case.get_state_display }}</span>{% if case.blocking and active %} <span class="badge" title="holds settlements of its scope">blocking</span>{% endif %}{% if case.escalated_at and active %} <span class="badge error" data-testid="escalated">escalated</span>{% endif %}</td>
      <td><span class="badge sev-{{ case.severity }}">{{ case.get_severity_display }}</span></td>
      <td>{{ case.kind_label }}</td>
      <td><a href="{{ case_url }}">{{ case.title }}</a>{% if not case.cause_key %}<br><span class="muted">{{ case.subject_type.model }} · {{ case.subject_label|default:case.subject_id }}</span>{% endif %}</td>
      <td class="muted">{{ case.entity }} {{ case.customer }} {{ case.partner }} {{ case.period }}</td>
      <td class="num">{% if case.cause_key %}{{ case.item_count }}{% else %}—{% endif %}</td>
      <td>{{ case.first_seen_at|when }}</td>
      <td>{{ case.last_seen_at|when }}</td>
      <td{% if case.is_overdue %} class="error" title="past its SLA"{% endif %}>{{ case.sla_due_at|when|default:"—" }}</td>
      <td>{{ case.owner.get_username|default:"—" }}{% if case.owner_group %}<br><span class="muted">{{ case.owner_group.name }}</span>{% endif %}</td>
    </tr>{% endwith %}{% endfor %}"""  # noqa: E501
)

ITEM_LOOP = Template(
    """{% for item, link in item_rows %}
      <tr><td>{% if link.url %}<a href="{{ link.url }}">{{ link.label }}</a>{% else %}{{ link.label }}{% endif %}</td><td>{{ item.customer|default:"—" }}</td><td>{{ item.period|default:"—" }}</td><td class="num">{% if item.value_amount is not None %}{{ item.value_amount|money:item.currency }}{% else %}—{% endif %}</td><td>{{ item.added_at|when }}</td></tr>
      {% endfor %}"""  # noqa: E501
)

text = st.text(alphabet=st.sampled_from("ab<>&\"' é—1"), max_size=12)
moment = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)


def normalized(html: str) -> str:
    return re.sub(r">\s+<", "><", str(html)).strip()


@st.composite
def cases(draw):
    subject_type = ContentType(
        pk=1, app_label="billing", model=draw(st.sampled_from(["invoice", "financeevent"]))
    )
    case = Case(
        pk=draw(st.integers(1, 10**9)),
        kind=draw(st.sampled_from(CaseKind.values)),
        severity=draw(st.sampled_from(CaseSeverity.values)),
        state=draw(st.sampled_from(CaseState.values)),
        title=draw(text),
        cause_key=draw(st.sampled_from(["", "rule:US01:invoice"])),
        item_count=draw(st.integers(0, 100_000)),
        subject_id=draw(st.text(alphabet="0123456789ab<", min_size=1, max_size=6)),
        subject_label=draw(text),
        entity=draw(st.sampled_from(["", "US01", "D<E"])),
        customer=draw(text),
        partner=draw(text),
        period=draw(st.sampled_from(["", "2026-05"])),
        blocking=draw(st.booleans()),
        first_seen_at=draw(moment),
        last_seen_at=draw(moment),
        sla_due_at=draw(st.none() | moment),
        escalated_at=draw(st.none() | moment),
    )
    case.subject_type = subject_type
    if draw(st.booleans()):
        case.owner = User(pk=draw(st.integers(1, 99)), username=draw(text.filter(bool)))
    if draw(st.booleans()):
        case.owner_group = Group(pk=draw(st.integers(1, 99)), name=draw(text))
    return case


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(cases(), max_size=4))
def test_case_table_rows_equal_the_template_loop(rows):
    expected = QUEUE_LOOP.render(Context({"cases": rows}))
    assert normalized(CaseTable().rows(rows)) == normalized(expected)


@st.composite
def items(draw):
    item = CaseItem(
        pk=draw(st.integers(1, 10**6)),
        customer=draw(text),
        period=draw(st.sampled_from(["", "2026-05"])),
        currency=draw(st.sampled_from(["USD", "EUR", "KWD", "JPY"])),
        value_amount=draw(
            st.none() | st.decimals(Decimal("-1e9"), Decimal("1e9"), places=2, allow_nan=False)
        ),
        added_at=draw(moment),
    )
    link = SimpleNamespace(label=draw(text), url=draw(st.sampled_from(["", "/jobs/1?a=1&b=<2>"])))
    return item, link


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(items(), max_size=4))
def test_case_item_table_rows_equal_the_template_loop(rows):
    expected = ITEM_LOOP.render(Context({"item_rows": rows}))
    assert normalized(CaseItemTable().rows(rows)) == normalized(expected)


def test_case_table_escapes_a_title_with_markup():
    case = Case(pk=7, kind=CaseKind.values[0], severity="low", state="open",
                title="<script>x</script>", first_seen_at=datetime(2026, 1, 1, tzinfo=UTC),
                last_seen_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=1))  # fmt: skip
    case.subject_type = ContentType(pk=1, app_label="billing", model="invoice")
    html = str(CaseTable().rows([case]))
    assert "<script>" not in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html
    assert 'data-case-id="7"' in html


pytestmark = pytest.mark.django_db(databases=[])
