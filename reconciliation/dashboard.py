"""The dashboard's live figures: each panel read from its app's selectors, shaped into
figures that the template draws twice, as a chart and as a table of the same numbers.

A figure is rows by series of numbers; every number links to the filtered list of the
records behind it (the exception queue, the sync jobs, the events, the settlements, the
breaks), with the query parameters of that list's FilterSet. A panel is built only for a
person who holds the view permission of its records.

Reconciliation is the top layer, so this is the one module that reads every app's figures
(config imports no app: DESIGN.md, the `config-imports-no-app` contract).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.http import urlencode

from billing.selectors import duplicate_deliveries
from erp_sync.selectors import posting_latency, sync_job_board
from exceptions.models import ACTIVE_STATES
from exceptions.selectors import case_backlog
from partners.choices import SettlementState
from partners.selectors import settlement_state_counts
from reconciliation.selectors import open_break_counts

# Severity order of the charts' stacks (worst on top) and the tables' columns.
SEVERITY_ORDER = ("critical", "high", "medium", "low")


def link(name: str, *params: tuple[str, object]) -> str:
    """The console list `name` filtered by `params` (pairs, a key may repeat)."""
    query = urlencode([(key, str(value)) for key, value in params])
    return f"{reverse(name)}?{query}" if query else reverse(name)


@dataclass
class Cell:
    value: int | float | None
    url: str = ""
    unit: str = ""

    @property
    def text(self) -> str:
        if self.value is None:
            return "—"
        if isinstance(self.value, float):  # seconds: at most one decimal, never 1e+06
            number = f"{self.value:.1f}".removesuffix(".0")
        else:
            number = str(self.value)
        return f"{number} {self.unit}" if self.unit else number


@dataclass
class Figure:
    """Rows by series of numbers, drawn as a bar chart and as a table (the chart's text
    equivalent). `row_totals` adds a Total column linking each row's records."""

    id: str
    title: str
    row_header: str
    series: list[tuple[str, str]]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    row_totals: list[Cell] | None = None
    stacked: bool = True
    horizontal: bool = False
    unit: str = ""

    def add(self, label: str, cells: list[Cell], total: Cell | None = None) -> None:
        self.rows.append((label, cells))
        if total is not None:
            self.row_totals = [*(self.row_totals or []), total]

    @property
    def chart_id(self) -> str:
        return f"chart-{self.id}"

    @property
    def table_rows(self) -> list[dict]:
        totals = self.row_totals or [None] * len(self.rows)
        keys = [key for key, _ in self.series]
        return [
            {"label": label, "cells": list(zip(keys, cells, strict=True)), "total": total}
            for (label, cells), total in zip(self.rows, totals, strict=True)
        ]

    @property
    def chart(self) -> dict:
        """What static/js/dashboard.js draws (passed as JSON, never as a script)."""
        return {
            "type": "bar",
            "stacked": self.stacked,
            "horizontal": self.horizontal,
            "unit": self.unit,
            "labels": [label for label, _ in self.rows],
            "datasets": [
                {
                    "key": key,
                    "label": label,
                    "data": [cells[index].value for _, cells in self.rows],
                    "links": [cells[index].url for _, cells in self.rows],
                }
                for index, (key, label) in enumerate(self.series)
            ],
        }


@dataclass
class Panel:
    key: str
    title: str
    figures: list[Figure]
    summary: list[tuple[str, Cell]] = field(default_factory=list)
    note: str = ""


def _severities(backlog: dict) -> list[tuple[str, str]]:
    labels = dict(backlog["severities"])
    return [(severity, labels[severity]) for severity in SEVERITY_ORDER]


def backlog_panel(*, now: dt.datetime) -> Panel:
    backlog = case_backlog(now=now)
    severities = _severities(backlog)
    active = [("state", state) for state in ACTIVE_STATES]
    queue = "exceptions:case-list"
    by_kind = Figure("backlog-kind", "Open cases by kind", "Kind", severities, horizontal=True)
    for kind in backlog["by_kind"]:
        scope = [*active, ("kind", kind["kind"])]
        by_kind.add(
            kind["label"],
            [
                Cell(kind["by_severity"][severity], link(queue, *scope, ("severity", severity)))
                for severity, _ in severities
            ],
            Cell(kind["total"], link(queue, *scope)),
        )
    by_age = Figure("backlog-age", "Open cases by age (since first seen)", "Age", severities)
    for age in backlog["by_age"]:
        scope = [*active, ("age", age["age"])]
        by_age.add(
            age["label"],
            [
                Cell(age["by_severity"][severity], link(queue, *scope, ("severity", severity)))
                for severity, _ in severities
            ],
            Cell(age["total"], link(queue, *scope)),
        )
    return Panel(
        "backlog",
        "Exception backlog",
        [by_kind, by_age] if backlog["total"] else [],
        summary=[("Open or acknowledged", Cell(backlog["total"], link(queue, *active)))],
    )


def postings_panel(*, now: dt.datetime) -> Panel:
    board = sync_job_board(now=now)
    jobs = "erp_sync:job-list"
    # Posted jobs are those of the last day (erp_sync.selectors.POSTED_WINDOW): their links
    # say so, and so does the column.
    recent = ("posted_after", board["posted_since"].isoformat(timespec="seconds"))
    states = [
        (state, "Posted, last 24 h" if state == "posted" else label)
        for state, label in board["states"]
    ]

    def cells(counts: dict, scope: tuple[str, object]) -> list[Cell]:
        return [
            Cell(counts[s], link(jobs, ("state", s), scope, *([recent] if s == "posted" else [])))
            for s, _ in states
        ]

    figure = Figure("postings", "Sync jobs by state per connection", "Connection", states)
    figure.horizontal = True
    for entity in board["entities"]:
        connections = [c for c in board["connections"] if c["entity"] == entity["entity"]]
        for conn in connections:
            figure.add(
                f"{conn['entity']} · {conn['name']}",
                cells(conn["counts"], ("connection", conn["id"])),
                Cell(conn["total"]),
            )
        if len(connections) > 1:
            code = entity["entity"]
            figure.add(
                f"{code} (all connections)",
                cells(entity["counts"], ("entity", code)),
                Cell(entity["total"]),
            )
    held = Figure("held", "Held jobs by reason", "Reason", [("held", "Held")], stacked=False)
    held.horizontal = True
    for reason in board["held_by_reason"]:
        url = link(jobs, ("state", "held"), ("hold_reason", reason["reason"]))
        held.add(reason["label"], [Cell(reason["count"], url)])
    totals = board["totals"]
    return Panel(
        "postings",
        "Postings to the ERP",
        [figure, *([held] if held.rows else [])] if figure.rows else [],
        summary=[
            ("Dead", Cell(totals["dead"], link(jobs, ("state", "dead")))),
            ("Held", Cell(totals["held"], link(jobs, ("state", "held")))),
            ("Waiting to retry", Cell(totals["retry_wait"], link(jobs, ("state", "retry_wait")))),
        ],
    )


def latency_panel(*, now: dt.datetime) -> Panel:
    windows = posting_latency(now=now)
    jobs = "erp_sync:job-list"
    figure = Figure(
        "latency",
        "Posting latency, job created → posted",
        "Window",
        [("p50", "p50"), ("p95", "p95")],
        stacked=False,
        unit="s",
    )
    summary = []
    for window in windows:
        url = link(jobs, ("posted_after", window["since"].isoformat(timespec="seconds")))
        figure.add(
            window["label"],
            [Cell(window["p50_seconds"], url, "s"), Cell(window["p95_seconds"], url, "s")],
            Cell(window["postings"], url),
        )
        summary.append((f"Posted, {window['label'].lower()}", Cell(window["postings"], url)))
    sampled = any(window["sampled"] for window in windows)
    return Panel(
        "latency",
        "Posting latency",
        [figure],
        summary=summary,
        note="Percentiles of the most recent postings only." if sampled else "",
    )


def duplicates_panel(*, today: dt.date) -> Panel:
    figures = duplicate_deliveries(today=today)
    figure = Figure(
        "duplicates",
        "Duplicate deliveries rejected",
        "Window",
        [("duplicates", "Repeated (answered 200)"), ("conflicts", "Other body (answered 409)")],
    )
    for window in figures["windows"]:
        figure.add(
            window["label"],
            [Cell(window["duplicates"]), Cell(window["conflicts"])],
            Cell(window["rejected"]),
        )
    events = link(
        "billing:event-list", ("state", "quarantined"), ("quarantine_reason", "duplicate_record")
    )
    return Panel(
        "duplicates",
        "Duplicate events rejected",
        [figure],
        summary=[
            (
                "Quarantined as duplicate records",
                Cell(figures["quarantined_duplicate_records"], events),
            )
        ],
        note="Rejected deliveries are counted, not stored: the event each one repeated is "
        "in the event log.",
    )


def settlements_panel(*, user) -> Panel:
    counts = settlement_state_counts(user)
    figure = Figure(
        "settlements", "Settlements by state", "State", [("n", "Settlements")], stacked=False
    )
    for state, label in SettlementState.choices:
        url = link("partners:settlement-list", ("state", state))
        figure.add(label, [Cell(counts.get(state, 0), url)])
    return Panel("settlements", "Partner settlements", [figure] if counts else [])


def breaks_panel() -> Panel:
    rows = open_break_counts()
    figure = Figure(
        "breaks", "Open breaks by kind", "Kind", [("n", "Open breaks")], horizontal=True
    )
    for row in rows:
        url = link("reconciliation:break-list", ("state", "open"), ("kind", row["kind"]))
        figure.add(row["label"], [Cell(row["count"], url)])
    total = sum(row["count"] for row in rows)
    return Panel(
        "breaks",
        "Reconciliation breaks",
        [figure] if rows else [],
        summary=[("Open", Cell(total, link("reconciliation:break-list", ("state", "open"))))],
    )


# (panel, the permission that shows it, builder(user, now)): in the order they appear.
PANELS: tuple[tuple[str, str, Callable[..., Panel]], ...] = (
    ("backlog", "exceptions.view_case", lambda user, now: backlog_panel(now=now)),
    ("postings", "erp_sync.view_syncjob", lambda user, now: postings_panel(now=now)),
    ("latency", "erp_sync.view_syncjob", lambda user, now: latency_panel(now=now)),
    (
        "duplicates",
        "billing.view_financeevent",
        lambda user, now: duplicates_panel(today=now.date()),
    ),
    ("settlements", "partners.view_settlement", lambda user, now: settlements_panel(user=user)),
    ("breaks", "reconciliation.view_break", lambda user, now: breaks_panel()),
)


def visible_panels(user) -> list[str]:
    """The panels `user` may see (holds the view permission of their records)."""
    return [key for key, permission, _ in PANELS if user.has_perm(permission)]


def dashboard(*, user, now: dt.datetime) -> list[Panel]:
    """The panels `user` may see, as of `now` (UTC). A few aggregate queries per panel."""
    return [build(user, now) for key, permission, build in PANELS if user.has_perm(permission)]
