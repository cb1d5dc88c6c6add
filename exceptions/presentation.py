"""A case as a person reads it: its detail as labelled fields, its subject and blocked
records as links to their pages.

This app sits at the bottom of the layers, so it knows no record page itself: a subject's
page is its model's `get_absolute_url()` (each app above defines it on the models cases
are raised on). A model without one is shown as text.

The detail dict is written by the app that opened the case (billing's quarantine, erp_sync's
posting failures, reconciliation's breaks). The keys those apps write have a label and a
kind here (an amount "1250.00 USD" is shown through the money filter, a date through the
date filters); any other key is shown as a key/value row, never as a dict repr.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.db import models

from exceptions.models import Case, CaseItem

TEXT, AMOUNT, DAY, WHEN, NUMBER = "text", "amount", "day", "when", "number"

# detail key → (label, kind). The order is the order on the page.
KNOWN_FIELDS: dict[str, tuple[str, str]] = {
    "detail": ("What was wrong", TEXT),
    "error": ("Reason given", TEXT),
    "type": ("Event type", TEXT),
    "source": ("Source system", TEXT),
    "id": ("Event id", TEXT),
    "connection": ("ERP connection", TEXT),
    "last_job": ("Latest blocked document", TEXT),
    "document_date": ("Document date", DAY),
    "policy": ("Closed-period policy", TEXT),
    "parent_job": ("Parent sync job", NUMBER),
    "parent_external_id": ("Parent document", TEXT),
    "parent_state": ("Parent job state", TEXT),
    "billing": ("Billing amount", AMOUNT),
    "erp": ("ERP amount", AMOUNT),
    "difference": ("Difference", AMOUNT),
    "quantities": ("Quantities (billing / ERP)", TEXT),
    "break": ("Reconciliation break", NUMBER),
    "run": ("Reconciliation run", NUMBER),
}
# Nested dicts shown as their own small list, under a label.
KNOWN_GROUPS: dict[str, str] = {
    "match": "What the mapping rule had to match",
    "response": "The ERP's answer",
}
# Shown elsewhere on the page (the "Waiting for" fact).
SHOWN_ELSEWHERE = frozenset({"waiting_for"})


@dataclass(frozen=True)
class Field:
    label: str
    kind: str  # TEXT, AMOUNT, DAY, WHEN, NUMBER
    value: object
    currency: str = ""


@dataclass(frozen=True)
class Link:
    label: str
    url: str | None  # None: the record has no page (or is gone)
    what: str = ""  # the record's kind in words ("sync job")


def humanize(key: str) -> str:
    """Turn a key into words: "parent_external_id" → "Parent external id"."""
    words = str(key).replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else "—"


def _scalar(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_scalar(v) for v in value) or "—"
    return str(value)


def flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    """A nested dict as (label, text) rows: {"a": {"b": 1}} → [("A · b", "1")]."""
    if not isinstance(value, dict):
        return [(prefix or "Value", _scalar(value))]
    rows: list[tuple[str, str]] = []
    for key, item in value.items():
        label = f"{prefix} · {humanize(key).lower()}" if prefix else humanize(key)
        if isinstance(item, dict):
            rows += flatten(item, label) if item else [(label, "—")]
        elif isinstance(item, list) and any(isinstance(i, dict) for i in item):
            for index, element in enumerate(item, start=1):
                rows += flatten(element, f"{label} {index}")
        else:
            rows.append((label, _scalar(item)))
    return rows


def _amount(text) -> tuple[Decimal | None, str]:
    """Read "1250.00 USD" as (Decimal("1250.00"), "USD"); anything else as (None, "")."""
    parts = str(text or "").split()
    if not parts:
        return None, ""
    try:
        amount = Decimal(parts[0])
    except InvalidOperation:
        return None, ""
    if not amount.is_finite():
        return None, ""
    return amount, parts[1] if len(parts) > 1 else ""


def _field(label: str, kind: str, raw) -> Field:
    if kind == AMOUNT:
        amount, currency = _amount(raw)
        if amount is None or not currency:
            return Field(label, TEXT, _scalar(None if amount is None else raw))
        return Field(label, AMOUNT, amount, currency)
    if kind in (DAY, WHEN) and isinstance(raw, str):
        try:
            parsed = dt.date.fromisoformat(raw) if kind == DAY else dt.datetime.fromisoformat(raw)
        except ValueError:
            return Field(label, TEXT, raw)
        return Field(label, kind, parsed)
    if isinstance(raw, dict):
        return Field(label, TEXT, "; ".join(f"{k}: {v}" for k, v in flatten(raw)))
    return Field(label, kind if kind != NUMBER else TEXT, _scalar(raw))


@dataclass(frozen=True)
class DetailView:
    fields: list[Field]
    groups: list[tuple[str, list[tuple[str, str]]]]  # (label, rows)
    other: list[tuple[str, str]]  # keys nobody declared, as (label, text)
    waiting: dict | None = None  # {"kind", "id", "until": datetime | None}: an awaited record


def _waiting(value) -> dict | None:
    if not isinstance(value, dict):
        return None
    try:
        until = dt.datetime.fromisoformat(str(value.get("until", "")))
    except ValueError:
        until = None
    return {"kind": humanize(value.get("kind", "")).lower(), "id": value.get("id"), "until": until}


def case_detail_view(case: Case) -> DetailView:
    """`case.detail` as labelled fields, labelled groups and the remaining key/values."""
    detail = case.detail if isinstance(case.detail, dict) else {"detail": case.detail}
    fields = [
        _field(label, kind, detail[key])
        for key, (label, kind) in KNOWN_FIELDS.items()
        if detail.get(key) not in (None, "", {}, [])
    ]
    groups = []
    for key, label in KNOWN_GROUPS.items():
        value = detail.get(key)
        if isinstance(value, dict) and value:
            groups.append((label, flatten(value)))
        elif value not in (None, "", {}, []):
            fields.append(Field(label, TEXT, _scalar(value)))
    known = set(KNOWN_FIELDS) | set(KNOWN_GROUPS) | SHOWN_ELSEWHERE
    other: list[tuple[str, str]] = []
    for key, value in detail.items():
        if key not in known:
            other += (
                flatten(value, humanize(key))
                if isinstance(value, dict)
                else [(humanize(key), _scalar(value))]
            )
    return DetailView(fields, groups, other, _waiting(detail.get("waiting_for")))


def record_url(record: models.Model | None) -> str | None:
    """The page of `record` (its get_absolute_url), None when it has none."""
    if record is None or not hasattr(record, "get_absolute_url"):
        return None
    return record.get_absolute_url()


def case_subject_link(case: Case) -> Link:
    """The case's subject as a link to its page (one query: the subject itself)."""
    model = case.subject_type.model_class()
    what = str(model._meta.verbose_name) if model is not None else case.subject_type.model
    subject = case.subject if model is not None else None
    label = case.subject_label or (str(subject) if subject is not None else case.subject_id)
    return Link(label, record_url(subject), what)


def item_links(items: list[CaseItem]) -> dict[int, Link]:
    """{item pk: link to its record} for a grouped case's items: one query per kind of
    record among them (sync jobs, in practice), whatever their number."""
    ids_by_type = defaultdict(set)
    for item in items:
        ids_by_type[item.subject_type].add(item.subject_id)
    records = {}
    for subject_type, ids in ids_by_type.items():
        model = subject_type.model_class()
        if model is None or not hasattr(model, "get_absolute_url"):
            continue
        # Without the text and JSON columns no link needs (a sync job's document, errors):
        # read for each of the up to 100 blocked records of a grouped case.
        bulky = [
            field.name
            for field in model._meta.concrete_fields
            if isinstance(field, models.TextField | models.JSONField | models.BinaryField)
        ]
        for pk, record in model._base_manager.defer(*bulky).in_bulk(list(ids)).items():
            records[(subject_type.pk, str(pk))] = record
    links = {}
    for item in items:
        record = records.get((item.subject_type_id, item.subject_id))
        links[item.pk] = Link(item.label or item.subject_id, record_url(record))
    return links
