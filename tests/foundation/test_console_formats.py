"""The fast forms of the console's formatting (config.console_tags.when, config.tables.esc
and html) print exactly what their Django forms print."""

import zoneinfo
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from hypothesis import given, settings
from hypothesis import strategies as st

from config.console_tags import when, when_text
from config.tables import esc, html

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]


def when_reference(moment: datetime) -> str:
    """`when` as first written, with format_html."""
    exact = moment.astimezone(UTC) if timezone.is_aware(moment) else moment
    return format_html(
        '<time datetime="{}">{}</time>', exact.isoformat(timespec="seconds"), when_text(moment)
    )


@settings(max_examples=300, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.none() | st.sampled_from(ZONES).map(zoneinfo.ZoneInfo),
    ),
    zone=st.sampled_from(ZONES),
)
def test_when_equals_the_format_html_form(moment, zone):
    with timezone.override(zoneinfo.ZoneInfo(zone)):
        assert when(moment) == when_reference(moment)


@settings(max_examples=300)
@given(value=st.text() | st.integers() | st.decimals(allow_nan=False) | st.none())
def test_esc_equals_conditional_escape(value):
    assert esc(value) == conditional_escape(value)
    assert esc(mark_safe(str(value))) == conditional_escape(mark_safe(str(value)))


@settings(max_examples=200)
@given(a=st.text(), b=st.text() | st.integers())
def test_html_equals_format_html(a, b):
    template = '<a href="{}" title="x">{}</a>'
    assert html(template, a, b) == format_html(template, a, b)
    assert html(template, mark_safe(a), b) == format_html(template, mark_safe(a), b)
