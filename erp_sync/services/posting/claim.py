"""(c) The claim: one statement locks up to `size` ready jobs of a connection and starts
them, with their history rows on PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connection as db
from django.db import transaction
from django.utils import timezone

from billing.services.bulk_write import history_columns, history_insert
from config.history import history_attrs, stamp
from erp_sync.choices import CircuitState, HoldReason, SyncJobState
from erp_sync.models import Connection, SyncJob
from erp_sync.services.common import EARLY_TOLERANCE, STARTS
from erp_sync.services.posting.holds import job_hold
from erp_sync.services.tuning import Tuning


def batch_start(
    job_id: int | None, connection: Connection, tuning: Tuning, *, size: int, probe: bool, actor
) -> list[SyncJob] | str:
    """(c) Claim and start up to `size` ready jobs (`job_id` among them when it is ready and
    not locked), each with its "attempt N started" history row; in id order. [] when none
    is ready; "held" when the circuit opened since the gate (`job_id` is held, as its gate
    would have)."""
    now = timezone.now()
    lease = now + dt.timedelta(seconds=tuning.lease_seconds)
    claim = Claim(job_id, connection, size=size, probe=probe, now=now, lease=lease)
    if claim.db.vendor == "postgresql":
        # One statement, its own transaction: claim, start and history rows together.
        jobs = sorted(SyncJob.objects.raw(*claim.with_history(actor)), key=lambda job: job.pk)
    else:
        with transaction.atomic():
            jobs = sorted(SyncJob.objects.raw(*claim.sql()), key=lambda job: job.pk)
            for job in jobs:
                stamp(job, actor=actor, reason=f"attempt {job.attempts} started")
            history_insert(SyncJob, jobs, history_type="~", custom_historical_attrs=history_attrs())
    if jobs or job_id is None:
        return jobs
    # Nothing claimed: none ready, all locked by other tasks, or the circuit is no longer
    # closed (the claim requires it).
    state = Connection.objects.filter(pk=connection.pk).values_list("circuit_state", flat=True)
    state = state.get()
    closed_to_us = state == CircuitState.OPEN or (state == CircuitState.HALF_OPEN and not probe)
    if closed_to_us and job_hold(job_id=job_id, reason=HoldReason.CONNECTION_OPEN, actor=actor):
        return "held"
    return []


@dataclass
class Claim:
    """The statement that locks up to `size` ready jobs of `connection` (`job_id` and the
    oldest others; FOR UPDATE SKIP LOCKED where the database has it) and starts them: the
    `start` transition (pending | retry_wait → in_flight, attempts + 1, the lease) done
    set-based, only while the circuit allows calls. It returns the started rows.

    One statement instead of a locking SELECT, an UPDATE, a circuit read and (PostgreSQL)
    the history COPY: the claim runs while the task holds a semaphore slot, and every
    round trip there is slot time not spent calling the ERP. Names come from model
    metadata.
    """

    job_id: int | None
    connection: Connection
    size: int
    probe: bool
    now: dt.datetime
    lease: dt.datetime

    @property
    def db(self):
        return db

    def _job_columns(self) -> str:
        """Every column of a sync job: what the claim returns, for SyncJob.objects.raw."""
        qn = self.db.ops.quote_name
        return ", ".join(qn(f.column) for f in SyncJob._meta.concrete_fields)

    def _parts(self) -> tuple[str, str, list]:
        """(the CTEs, the UPDATE ... RETURNING, their parameters).

        The states come from SyncJob's declaration of `start` (STARTS): a job is ready in
        one of its sources (a retry_wait one only once due), and the UPDATE checks the
        source again in its own WHERE clause, so a row in any other state is never
        started. The columns it sets are what `start` sets besides the state: attempts + 1,
        the lease, no hold reason.
        """
        db = self.db
        qn = db.ops.quote_name
        table = qn(SyncJob._meta.db_table)
        state = qn(SyncJob._meta.get_field(STARTS.field).column)
        lock = " FOR UPDATE SKIP LOCKED" if db.features.has_select_for_update_skip_locked else ""
        sources = f"{state} IN ({', '.join(['%s'] * len(STARTS.sources))})"
        ready = (
            f"({sources} AND ({state} <> %s OR next_attempt_at IS NULL OR next_attempt_at <= %s))"
        )
        due = db.ops.adapt_datetimefield_value(self.now + EARLY_TOLERANCE)
        ready_params = [*STARTS.sources, SyncJobState.RETRY_WAIT, due]
        states = [CircuitState.CLOSED, *([CircuitState.HALF_OPEN] if self.probe else [])]
        ctes = (
            f"mine AS (SELECT id FROM {table} WHERE id = %s AND connection_id = %s "  # noqa: S608
            f"AND {ready}{lock}), "
            f"others AS (SELECT id FROM {table} WHERE connection_id = %s AND id <> %s "
            f"AND {ready} ORDER BY id LIMIT %s{lock})"
        )
        update = (
            f"UPDATE {table} SET {state} = %s, attempts = attempts + 1, "  # noqa: S608
            "lease_expires_at = %s, hold_reason = '', updated_at = %s "
            f"WHERE id IN (SELECT id FROM mine UNION ALL SELECT id FROM others) AND {sources} "
            f"AND EXISTS (SELECT 1 FROM {qn(Connection._meta.db_table)} WHERE id = %s "
            f"AND circuit_state IN ({', '.join(['%s'] * len(states))})) "
            f"RETURNING {self._job_columns()}"
        )
        mine = self.job_id if self.job_id is not None else 0
        params = [
            mine,
            self.connection.pk,
            *ready_params,
            self.connection.pk,
            mine,
            *ready_params,
            self.size - (1 if self.job_id is not None else 0),
            STARTS.target,
            db.ops.adapt_datetimefield_value(self.lease),
            db.ops.adapt_datetimefield_value(timezone.now()),
            *STARTS.sources,
            self.connection.pk,
            *states,
        ]
        return ctes, update, params

    def sql(self) -> tuple[str, list]:
        ctes, update, params = self._parts()
        return f"WITH {ctes} {update}", params

    def with_history(self, actor) -> tuple[str, list]:
        """PostgreSQL: the claim, and each started job's history row ("attempt N started",
        stamped as `stamp` would) written by the same statement."""
        ctes, update, params = self._parts()
        qn = self.db.ops.quote_name
        history = SyncJob.history.model._meta
        copied = [f.column for f in history_columns(SyncJob)[0]]
        own = {
            "history_date": "%s",
            "history_change_reason": "'attempt ' || CAST(started.attempts AS text) || ' started'",
            "history_type": "'~'",
            "history_user_id": "%s",
            "correlation_id": "%s",
        }
        columns = ", ".join(qn(column) for column in [*copied, *own])
        values = ", ".join([*(f"started.{qn(column)}" for column in copied), *own.values()])
        sql = (
            f"WITH {ctes}, started AS ({update}), "  # noqa: S608
            f"history AS (INSERT INTO {qn(history.db_table)} ({columns}) "
            f"SELECT {values} FROM started) "
            f"SELECT {self._job_columns()} FROM started"
        )
        user = actor.pk if actor is not None and actor.pk else None
        stamps = [timezone.now(), user, history_attrs()["correlation_id"]]
        return sql, [*params, *stamps]
