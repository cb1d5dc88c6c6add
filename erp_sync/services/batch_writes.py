"""Set-based writes of a posting batch: many jobs' transitions, history rows and billing
statuses in a few statements instead of a save() (an UPDATE and a history INSERT) per job.

Each job still goes through its FSM transition in Python (illegal ones raise) and gets its
own history row with its own reason; only the writing is shared. Callers hold the rows'
locks (the batch claimed them with FOR UPDATE SKIP LOCKED) inside their transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.db import connection, models
from django.utils import timezone

from billing.handlers.common import history_reason
from billing.selectors import record_model_for_type
from billing.services.bulk_write import history_insert
from config.history import history_attrs, stamp
from erp_sync.models import SyncJob
from erp_sync.services.common import ERP_STATUS_BY_STATE

log = logging.getLogger(__name__)


def rows_update(model: type[models.Model], objs: list[models.Model], fields: list[str]) -> None:
    """Write `fields` of `objs` in one UPDATE: a field with one value for every row is set
    to it, the others through CASE <pk> WHEN ... (cast to the column's type on PostgreSQL).

    What QuerySet.bulk_update writes, without building a When() expression per row and
    field: that made bulk_update most of a batch's CPU. Names come from model metadata.
    """
    meta = model._meta
    qn = connection.ops.quote_name
    pk_column = qn(meta.pk.column)
    ids = [obj.pk for obj in objs]
    sets, params = [], []
    for name in fields:
        field = meta.get_field(name)
        values = [field.get_db_prep_save(getattr(obj, field.attname), connection) for obj in objs]
        if all(value == values[0] for value in values[1:]):
            sets.append(f"{qn(field.column)} = %s")
            params.append(values[0])
            continue
        case = f"CASE {pk_column} {' '.join(['WHEN %s THEN %s'] * len(objs))} END"
        if connection.vendor == "postgresql":
            case = f"CAST({case} AS {field.db_type(connection)})"
        sets.append(f"{qn(field.column)} = {case}")
        for pk, value in zip(ids, values, strict=True):
            params += [pk, value]
    placeholders = ", ".join(["%s"] * len(ids))
    sql = (
        f"UPDATE {qn(meta.db_table)} SET {', '.join(sets)} "  # noqa: S608 - names from metadata
        f"WHERE {pk_column} IN ({placeholders})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *ids])


def jobs_save_many(jobs: list[SyncJob], *, fields: list[str]) -> None:
    """Write `fields` of `jobs` (already transitioned, each stamped with its actor and reason)
    in one UPDATE, then their history rows in one COPY. Their FSM state is marked as saved."""
    if not jobs:
        return
    now = timezone.now()
    for job in jobs:
        job.updated_at = now
    rows_update(SyncJob, jobs, [*fields, "updated_at"])
    history_insert(SyncJob, jobs, history_type="~", custom_historical_attrs=history_attrs())
    for job in jobs:
        # What save() does after the UPDATE: a later save() must expect the new state.
        job._update_initial_state()


def records_erp_status_set_many(jobs: list[SyncJob], *, actor) -> int:
    """Tell billing where each job's record stands, in one UPDATE and one history COPY per
    record model; returns how many records changed.

    Set-based twin of billing's `record_erp_status_set` (same fields, same history reason,
    unchanged records untouched). A record that vanished is logged and skipped: failing the
    batch would roll back outcomes of documents the ERP already holds.
    """
    by_model: dict[type[models.Model], dict[int, SyncJob]] = defaultdict(dict)
    for job in jobs:
        model = record_model_for_type(job.event.type)
        if model is not None:
            by_model[model][job.event_id] = job
    changed_total = 0
    for model, by_event in by_model.items():
        records = list(
            model.objects.select_for_update().filter(event_id__in=by_event).order_by("pk")
        )
        if len(records) != len(by_event):
            missing = set(by_event) - {record.event_id for record in records}
            log.warning("sync jobs without a billing record", extra={"events": sorted(missing)})
        changed_records, fields = [], set()
        for record in records:
            job = by_event[record.event_id]
            status = ERP_STATUS_BY_STATE[job.state]
            changes = {"erp_status": status}
            if job.erp_number:
                changes["erp_document_number"] = job.erp_number
            if job.erp_id:
                changes["erp_document_id"] = job.erp_id
            changed = [name for name, value in changes.items() if getattr(record, name) != value]
            if not changed:
                continue
            for name in changed:
                setattr(record, name, changes[name])
            stamp(record, actor=actor, reason=f"{history_reason(job.event)}: ERP status {status}")
            changed_records.append(record)
            fields.update(changed)
        if changed_records:
            rows_update(model, changed_records, sorted(fields))
            history_insert(
                model, changed_records, history_type="~", custom_historical_attrs=history_attrs()
            )
        changed_total += len(changed_records)
    return changed_total
