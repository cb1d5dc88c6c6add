"""Counting the deliveries the ingest rejects as duplicates (DuplicateDeliveryCount).

One statement per ingest call that met duplicates, and only then: an upsert adding to the
entity's row of the day. Called after the ingest's own transaction, so the counter row's
lock is held for one statement, never for a batch.
"""

# ruff: noqa: S608 -- the statement is built from _meta names; values travel as parameters.
from __future__ import annotations

from collections import Counter

from django.db import connection
from django.utils import timezone

from billing.models import DuplicateDeliveryCount

STATUS_DUPLICATE, STATUS_CONFLICT = 200, 409


def duplicates_count(counts: Counter) -> None:
    """Add `counts` ({(entity, status): n}, status 200 or 409) to today's rows."""
    rows: dict[str, list[int]] = {}
    for (entity, status), n in counts.items():
        pair = rows.setdefault(entity, [0, 0])
        pair[0 if status == STATUS_DUPLICATE else 1] += n
    if not rows:
        return
    day = timezone.now().date()
    qn = connection.ops.quote_name
    table = qn(DuplicateDeliveryCount._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    sql = (
        f"INSERT INTO {table} (entity, day, duplicates, conflicts) VALUES {values} "
        "ON CONFLICT (entity, day) DO UPDATE SET "
        f"duplicates = {table}.duplicates + EXCLUDED.duplicates, "
        f"conflicts = {table}.conflicts + EXCLUDED.conflicts"
    )
    params: list = []
    for entity, (duplicates, conflicts) in sorted(rows.items()):
        params += [entity, day, duplicates, conflicts]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
