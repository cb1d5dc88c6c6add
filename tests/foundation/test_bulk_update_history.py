"""A bulk `QuerySet.update()` on an audited model writes history.

Every model simple_history audits is found in its registry, so a new audited model is
covered here without a new line: it must use `config.history.AuditedManager`, and a bulk
update of one of its tracked fields must leave one "~" history row per updated row, holding
the new values, in the same transaction.
"""

import datetime as dt
import itertools
from decimal import Decimal
from importlib import import_module

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.db.models import F
from factory.django import DjangoModelFactory
from simple_history.models import registered_models

from billing.models import Customer, FinanceEvent
from config.history import AuditedQuerySet
from tests.billing.factories import FinanceEventFactory

pytestmark = pytest.mark.django_db

AUDITED = sorted(registered_models.values(), key=lambda model: model._meta.label)
_serial = itertools.count(1)


def _value(field: models.Field):
    """A valid value for a required field, unique where the field is."""
    n = next(_serial)
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DecimalField):
        return Decimal("1")
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return n
    if isinstance(field, models.DateTimeField):  # later fields later (ends after starts)
        return dt.datetime(2026, 5, 14, 10, tzinfo=dt.UTC) + dt.timedelta(minutes=n)
    if isinstance(field, models.DateField):
        return dt.date(2026, 1, 1) + dt.timedelta(days=n)
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, (models.CharField, models.TextField)):
        text = f"X{n}"
        if field.max_length and field.max_length < len(text):
            return text[-field.max_length :]
        return text
    raise NotImplementedError(f"no value for {field!r}")


def _factories() -> dict:
    """The model factories of tests/<app>/factories.py, by model."""
    found = {}
    for app in ("billing", "erp_sync", "partners", "reconciliation", "exceptions"):
        module = import_module(f"tests.{app}.factories")
        for candidate in vars(module).values():
            is_factory = isinstance(candidate, type) and issubclass(candidate, DjangoModelFactory)
            if is_factory and candidate._meta.model is not None:
                found.setdefault(candidate._meta.model, candidate)
    return found


FACTORIES = _factories()
# What a table-level constraint needs that the fields alone do not say.
REQUIRED_EXTRA = {
    "partners.Attribution": lambda: {"customer": _build(Customer)},
    "billing.CreditNote": lambda: {"subtotal_amount": 1, "tax_amount": 0, "total_amount": 1},
}


def _build(model: type[models.Model]) -> models.Model:
    """Save one row of `model` (its factory, else every required field filled, parents
    built first)."""
    if model is get_user_model():
        return model.objects.create_user(username=f"user{next(_serial)}")
    if model is ContentType:
        return ContentType.objects.get_for_model(get_user_model())
    if model in FACTORIES:
        return FACTORIES[model]()
    values = REQUIRED_EXTRA.get(model._meta.label, dict)()
    for field in model._meta.concrete_fields:
        if field.primary_key or field.null:
            continue
        if field.has_default() and not (
            isinstance(field, (models.CharField, models.DecimalField)) and not field.choices
        ):
            continue
        if field.name in values:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            continue
        if field.is_relation:
            values[field.name] = _build(field.related_model)
        elif field.unique and field.choices:  # a choice no row holds yet (rows may be seeded)
            used = set(model._default_manager.values_list(field.name, flat=True))
            values[field.name] = next(c for c, _ in field.flatchoices if c not in used)
        else:
            values[field.name] = _value(field)
    return model.objects.create(**values)


def _field_to_update(model: type[models.Model]) -> tuple[str, object]:
    """A tracked, plain field of `model` and a new value for it."""
    tracked = {f.attname for f in model.history.model.tracked_fields}
    untracked = set(getattr(model, "history_untracked_fields", ()))
    constrained = {
        name for constraint in model._meta.constraints for name in getattr(constraint, "fields", ())
    }
    candidates = [
        f
        for f in model._meta.concrete_fields
        if f.attname in tracked
        and f.name not in untracked | constrained
        and not (f.primary_key or f.is_relation or f.unique or f.choices)
    ]
    for kinds, value in [
        ((models.CharField, models.TextField), "bulk-updated"),
        ((models.BooleanField,), None),
        ((models.DateTimeField,), dt.datetime(2026, 6, 1, tzinfo=dt.UTC)),
        ((models.DecimalField,), Decimal("7.00")),
        ((models.DateField,), dt.date(2026, 6, 1)),
    ]:
        for field in candidates:
            if isinstance(field, kinds) and not isinstance(field, models.JSONField):
                if value == "bulk-updated" and field.max_length:
                    value = value[: field.max_length]
                return field.name, value
    # A model whose only changeable field is a foreign key (CaseKindOwner.group): point it
    # at another row.
    for field in model._meta.concrete_fields:
        if field.attname in tracked and field.many_to_one and not field.unique:
            return field.name, _build(field.related_model)
    raise AssertionError(f"{model.__name__}: no plain tracked field to update")


def test_the_registry_holds_every_audited_model():
    assert len(AUDITED) >= 25
    assert {"billing.Invoice", "erp_sync.SyncJob", "partners.Settlement"} <= {
        model._meta.label for model in AUDITED
    }


@pytest.mark.parametrize("model", AUDITED, ids=lambda model: model._meta.label)
def test_audited_model_uses_the_audited_queryset(model):
    assert isinstance(model._default_manager.all(), AuditedQuerySet), (
        f"{model._meta.label}: declare `objects = AuditedManager()` (config/history.py)"
    )


@pytest.mark.parametrize("model", AUDITED, ids=lambda model: model._meta.label)
def test_bulk_update_on_audited_model_writes_history(model):
    rows = list({row.pk: row for row in (_build(model), _build(model))}.values())
    name, value = _field_to_update(model)
    if value is None:  # a boolean: flip it
        value = not getattr(rows[0], name)
    pks = [row.pk for row in rows]
    before = model.history.filter(**{f"{model._meta.pk.attname}__in": pks}).count()

    with transaction.atomic():
        changed = model.objects.filter(pk__in=pks).update(**{name: value})

    assert changed == len(rows)
    written = model.history.filter(**{f"{model._meta.pk.attname}__in": pks}).order_by("history_id")[
        before:
    ]
    assert [(row.history_type, getattr(row, name)) for row in written] == [("~", value)] * len(rows)
    assert {row.history_change_reason for row in written} == {f"bulk update: {name}"}


def test_history_holds_the_values_after_an_expression_and_a_filter_that_stops_matching():
    event = FinanceEventFactory(entity="US01")

    FinanceEvent.objects.filter(entity="US01").update(entity=F("source"))

    latest = event.history.order_by("-history_id").first()
    assert (latest.history_type, latest.entity) == ("~", "billing-platform")


def test_bulk_update_of_bookkeeping_fields_alone_writes_no_history():
    event = FinanceEventFactory()
    before = event.history.count()

    FinanceEvent.objects.filter(pk=event.pk).update(dispatched_at=dt.datetime.now(dt.UTC))
    assert event.history.count() == before

    FinanceEvent.objects.filter(pk=event.pk).update(dispatched_at=None, entity="DE01")
    assert event.history.count() == before + 1


def test_bulk_update_matching_nothing_writes_nothing():
    before = FinanceEvent.history.count()

    assert FinanceEvent.objects.filter(pk=-1).update(entity="DE01") == 0
    assert FinanceEvent.history.count() == before


def test_bulk_update_with_history_writes_one_history_row_per_object():
    """simple_history's bulk_update_with_history goes through AuditedQuerySet.bulk_update,
    whose inner update() must not write a second row for each object."""
    from simple_history.utils import bulk_update_with_history

    from config.history import stamp
    from exceptions.models import CaseKindOwner

    rows = [_build(CaseKindOwner) for _ in range(2)]
    before = CaseKindOwner.history.count()
    group = _build(CaseKindOwner._meta.get_field("group").related_model)
    for row in rows:
        row.group = group
        stamp(row, actor=None, reason="moved to another group")

    bulk_update_with_history(rows, CaseKindOwner, fields=["group"])

    added = CaseKindOwner.history.count() - before
    assert added == len(rows)
    reasons = set(
        CaseKindOwner.history.order_by("-history_id")[:2].values_list(
            "history_change_reason", flat=True
        )
    )
    assert reasons == {"moved to another group"}


def test_no_application_code_calls_bulk_update_on_its_own():
    """AuditedQuerySet.bulk_update writes no history itself (bulk_update_with_history does):
    a bare `.bulk_update(` in the apps would change audited rows without a trace."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[2]
    offenders = []
    for app in ("billing", "erp_sync", "partners", "reconciliation", "exceptions", "config"):
        for path in (root / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            for number, line in enumerate(text.splitlines(), 1):
                if re.search(r"\.bulk_update\(", line) and "super().bulk_update" not in line:
                    offenders.append(f"{path.relative_to(root)}:{number}")
    assert not offenders, offenders
