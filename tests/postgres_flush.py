"""Transactional tests end with a flush; on PostgreSQL it DELETEs instead of TRUNCATEing.

Django empties every table after each transactional test (`transactional_db`, live server,
browser, Celery worker, Tryton and race tests) with one `TRUNCATE` of all ~100 tables. A
TRUNCATE gives each table and index a new file and waits for an exclusive lock on every
table: 1.5-4 s a test on the shared machine (80 such tests: ~3 min of `make test`), longer
when a finished test's thread still holds a lock. `DELETE FROM` each table leaves the same
state (every table empty, sequences not reset, as Django's flush without
`reset_sequences`) in a few milliseconds, since nearly every table is empty or small.

The audit tables' append-only triggers refuse DELETE (config/accounts/append_only.py), so
the DELETEs run with `session_replication_role = replica` for that one transaction: no
trigger fires, the foreign keys' triggers included (every table is emptied in the same
transaction, so none is left pointing anywhere). Setting it needs a superuser (CI and the
shared machine connect as `postgres`); for anyone else, and for a flush that resets
sequences or cascades (`available_apps`), Django's TRUNCATE runs as before. The
post_migrate signal after the flush (groups, permissions, triggers, schedules) is unchanged.
"""

from __future__ import annotations

from django.db.backends.postgresql.operations import DatabaseOperations

_TRUNCATE_FLUSH = DatabaseOperations.sql_flush
_may_bypass: dict[str, bool] = {}  # database name -> the user may set the replication role


def _may_set_replication_role(connection) -> bool:
    name = connection.settings_dict["NAME"]
    if name not in _may_bypass:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('is_superuser') = 'on'")
            _may_bypass[name] = bool(cursor.fetchone()[0])
    return _may_bypass[name]


def delete_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
    """DatabaseOperations.sql_flush: DELETE from every table, triggers off, in one transaction
    (Django runs the statements in `transaction.atomic`); else Django's TRUNCATE."""
    if (
        not tables
        or reset_sequences
        or allow_cascade
        or not _may_set_replication_role(self.connection)
    ):
        return _TRUNCATE_FLUSH(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
    return [
        "SET LOCAL session_replication_role = replica;",
        *(f"DELETE FROM {self.quote_name(table)};" for table in sorted(tables)),
        "SET LOCAL session_replication_role = origin;",
    ]
