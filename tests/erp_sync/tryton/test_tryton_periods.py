"""Tryton answers which periods are open: the closed-period guide asks it for the next open
period, a replay whether its period is still closed (the template has the standard monthly
periods of FISCAL_YEARS, all open; none after them)."""

import datetime as dt

# The last of erp_sync/tryton_setup/build_template.py's FISCAL_YEARS (that module needs
# proteus, which only the Tryton environment has).
LAST = 2027


def test_period_open_inside_the_fiscal_years_and_not_after(adapter):
    assert adapter.period_open(dt.date(LAST, 3, 15)) is True
    assert adapter.period_open(dt.date(LAST + 4, 1, 10)) is False


def test_next_open_period_is_the_next_month_then_none_past_the_last_year(adapter):
    assert adapter.next_open_period(dt.date(LAST, 3, 15)) == dt.date(LAST, 4, 1)
    assert adapter.next_open_period(dt.date(LAST, 12, 31)) is None
