"""Audit history conventions (django-simple-history).

Every audited model declares `history = ConcordHistory()` and `objects = AuditedManager()`.
Each history row carries the actor (`history_user`), the reason (`history_change_reason`)
and the correlation id of the request or task that made the change. Services stamp the actor
and reason explicitly with `stamp()`; API clients and Celery tasks act through their own
service users.

A bulk `QuerySet.update()` skips `save()` and so simple_history's signals: on an audited
model `AuditedQuerySet.update()` writes the "~" history rows itself, in the same
transaction. Only the bookkeeping columns a model lists in `history_untracked_fields`
(an outbox marker, a failure counter) may be bulk-updated without a history row. The fast
paths of `billing.services.bulk_write` write their own history rows and do not come here.

`bulk_update()` is Django's CASE/WHEN update of many saved objects, which runs through
`update()`. Here it is only ever called by simple_history's `bulk_update_with_history`,
which writes the history rows of the objects itself (with each object's own stamped
reason): the inner `update()` therefore writes none, or every row would have two.
`tests/foundation/test_bulk_update_history.py` checks that no application code calls
`bulk_update()` on its own.
"""

from contextvars import ContextVar

from django.db import models, transaction
from django.dispatch import receiver
from simple_history.manager import HistoryManager
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from config.correlation import get_correlation_id


class CorrelatedHistoricalModel(models.Model):
    correlation_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        abstract = True


class ConcordHistoryManager(HistoryManager):
    """simple_history's manager, its class built once per queryset class.

    simple_history's `HistoryDescriptor.__get__` calls `from_queryset` on every `.history`
    access, and Django's `from_queryset` builds a new class by walking the queryset with
    `inspect.getmembers`: measured on ingest_single (2026-12-07), 13% of the one-event
    endpoint's CPU, paid by every history row a save writes. The class it builds holds no
    state of its own (the model and instance go to the manager's __init__), so one per
    (queryset class, name) is the same manager.
    """

    _built: dict = {}

    @classmethod
    def from_queryset(cls, queryset_class, class_name=None):
        key = (cls, queryset_class, class_name)
        built = cls._built.get(key)
        if built is None:
            built = cls._built[key] = super().from_queryset(queryset_class, class_name)
        return built


def ConcordHistory(**kwargs) -> HistoricalRecords:
    kwargs.setdefault("bases", [CorrelatedHistoricalModel])
    kwargs.setdefault("history_manager", ConcordHistoryManager)
    return HistoricalRecords(**kwargs)


# Set while AuditedQuerySet.bulk_update runs: its inner update() writes no history rows.
_HISTORY_BY_CALLER: ContextVar[bool] = ContextVar("history_by_caller", default=False)


class AuditedQuerySet(models.QuerySet):
    """The queryset of an audited model: a bulk update writes history (see the module)."""

    def bulk_update(self, objs, fields, batch_size=None) -> int:
        """Django's bulk_update, for simple_history's bulk_update_with_history, which writes
        the history rows itself (see the module)."""
        token = _HISTORY_BY_CALLER.set(True)
        try:
            return super().bulk_update(objs, fields, batch_size=batch_size)
        finally:
            _HISTORY_BY_CALLER.reset(token)

    bulk_update.alters_data = True

    def update(self, **kwargs) -> int:
        """Update the matching rows and write one "~" history row per row changed.

        The rows are locked and read by primary key first, so a row that starts matching
        meanwhile is neither updated nor missed; the history rows are read back after the
        update (values computed by F() expressions included). An update of
        `history_untracked_fields` alone writes no history. Two more queries than Django's.
        """
        untracked = set(getattr(self.model, "history_untracked_fields", ()))
        if set(kwargs) <= untracked or _HISTORY_BY_CALLER.get():
            return super().update(**kwargs)
        with transaction.atomic(using=self.db):
            pks = list(
                self.order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True)
            )
            if not pks:
                return 0
            changed = super(AuditedQuerySet, self.filter(pk__in=pks)).update(**kwargs)
            rows = list(self.model._base_manager.using(self.db).filter(pk__in=pks).order_by("pk"))
            history = self.model.history
            tracked = {field.attname for field in history.model.tracked_fields}
            history.bulk_history_create(
                rows,
                update=True,
                default_change_reason=f"bulk update: {', '.join(sorted(kwargs))}"[:100],
                # A model that tracks its own correlation_id keeps it (as history_insert does).
                custom_historical_attrs={
                    name: value for name, value in history_attrs().items() if name not in tracked
                },
            )
        return changed

    update.alters_data = True


AuditedManager = models.Manager.from_queryset(AuditedQuerySet, "AuditedManager")


def stamp(obj: models.Model, *, actor, reason: str) -> models.Model:
    """Set who changes `obj` and why, for the history row its next save writes."""
    obj._history_user = actor if actor is not None and actor.pk else None
    # history_change_reason is varchar(100): keep the start, which names the change.
    obj._change_reason = reason if len(reason) <= 100 else reason[:99] + "…"
    return obj


def history_attrs() -> dict:
    """Extra columns for bulk_create_with_history rows."""
    return {"correlation_id": get_correlation_id() or ""}


@receiver(pre_create_historical_record)
def _stamp_correlation_id(sender, history_instance, **kwargs):
    if hasattr(history_instance, "correlation_id") and not history_instance.correlation_id:
        history_instance.correlation_id = get_correlation_id() or ""
