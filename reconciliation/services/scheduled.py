"""The scheduled start of runs: one run of the previous month per scope and legal entity
with an active ERP connection (what the nightly beat row asks for)."""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Exists, OuterRef
from django.utils import timezone

from billing.models import LegalEntity
from erp_sync.models import Connection
from reconciliation.choices import RunScope
from reconciliation.errors import ReconciliationError
from reconciliation.periods import Period
from reconciliation.services.runs import run_start

logger = logging.getLogger(__name__)


def runs_start_scheduled(*, actor, today: dt.date | None = None) -> dict[str, str]:
    """Start a run of the previous month per scope for each entity with an active
    connection; returns {key: run id or why not}, the key the entity's code for the
    documents scope and `<code>/<scope>` for the others. An entity that cannot start (a
    run of the scope still active, several connections) is skipped with its reason, so one
    entity never stops the others. Each start is its own transaction (run_start's)."""
    period = Period.previous_month(today or timezone.localdate())
    entities = LegalEntity.objects.filter(
        Exists(Connection.objects.filter(entity=OuterRef("pk"), is_active=True))
    ).order_by("code")
    outcome: dict[str, str] = {}
    for entity in entities:
        for scope in RunScope.values:
            key = entity.code if scope == RunScope.DOCUMENTS else f"{entity.code}/{scope}"
            try:
                run = run_start(
                    entity=entity,
                    period_start=period.start,
                    period_end=period.end,
                    scope=scope,
                    actor=actor,
                    today=today,
                )
            except ReconciliationError as error:
                logger.info("scheduled run %s %s skipped: %s", key, period.label, error)
                outcome[key] = f"skipped: {error.code}"
            else:
                outcome[key] = f"run #{run.pk}"
    return outcome
