"""Audit rows are append-only in the database too: on PostgreSQL a trigger refuses UPDATE
and DELETE on every django-simple-history table and on the security events.

The tables are found from the registered models (a history model is one with the
history_id/history_date/history_type/history_change_reason fields), so a new history table
needs no list to be edited. The accounts migration 0005 installs the function and the
triggers of the tables that exist then; a post_migrate receiver (re)installs them on every
table after each `migrate`, so history tables of apps migrated later or added in future are
covered. CREATE OR REPLACE TRIGGER makes both idempotent. TRUNCATE (test flushes) is left
alone; on SQLite nothing is installed. The one UPDATE let through clears the actor column
alone (deleting a user: Django's SET_NULL), so people can still be deleted.
"""

import contextlib

from django.apps import apps as global_apps
from django.db import connections

TRIGGER = "concord_append_only"
FUNCTION = "concord_refuse_change"
_HISTORY_FIELDS = {"history_id", "history_date", "history_type", "history_change_reason"}

# The one change allowed: clearing the actor column (TG_ARGV[0]) and nothing else, which is
# what Django's on_delete=SET_NULL does when the acting user is deleted; the row keeps
# everything else (a security event keeps the username).
FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (to_jsonb(NEW) ->> TG_ARGV[0]) IS NULL
       AND to_jsonb(NEW) - TG_ARGV[0] = to_jsonb(OLD) - TG_ARGV[0] THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'rows of % are append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def append_only_tables(apps=global_apps) -> dict[str, str]:
    """{db table: its actor column} of every history model and of the security events."""
    tables = {}
    for model in apps.get_models():
        names = {field.name for field in model._meta.get_fields()}
        if names >= _HISTORY_FIELDS:
            tables[model._meta.db_table] = "history_user_id"
    with contextlib.suppress(LookupError):  # before the migration that creates it
        tables[apps.get_model("accounts", "SecurityEvent")._meta.db_table] = "user_id"
    return dict(sorted(tables.items()))


def install_append_only_triggers(*, apps=global_apps, using: str = "default") -> list[str]:
    """Create the function and a trigger on each existing append-only table; return them."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return []
    existing = set(connection.introspection.table_names())
    tables = {t: actor for t, actor in append_only_tables(apps).items() if t in existing}
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(FUNCTION_SQL)
        for table, actor in tables.items():
            cursor.execute(
                f"CREATE OR REPLACE TRIGGER {TRIGGER} BEFORE UPDATE OR DELETE ON {qn(table)} "
                f"FOR EACH ROW EXECUTE FUNCTION {FUNCTION}('{actor}')"
            )
    return list(tables)


def install_after_migrate(sender, using="default", **kwargs) -> None:
    install_append_only_triggers(using=using)
