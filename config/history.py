"""Audit history conventions (django-simple-history).

Every audited model declares `history = ConcordHistory()`. Each history row carries the
actor (`history_user`), the reason (`history_change_reason`) and the correlation id of the
request or task that made the change. Services stamp the actor and reason explicitly with
`stamp()`; API clients and Celery tasks act through their own service users.
"""

from django.db import models
from django.dispatch import receiver
from simple_history.models import HistoricalRecords
from simple_history.signals import pre_create_historical_record

from config.correlation import get_correlation_id


class CorrelatedHistoricalModel(models.Model):
    correlation_id = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        abstract = True


def ConcordHistory(**kwargs) -> HistoricalRecords:
    kwargs.setdefault("bases", [CorrelatedHistoricalModel])
    return HistoricalRecords(**kwargs)


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
