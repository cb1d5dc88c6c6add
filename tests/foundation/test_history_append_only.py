"""History rows and security events cannot be changed or deleted, even in SQL (PostgreSQL)."""

import pytest
from django.core.management.sql import emit_post_migrate_signal
from django.db import DatabaseError, connection, transaction

from config.accounts.append_only import TRIGGER, append_only_tables
from config.accounts.models import SecurityEvent
from config.history import stamp
from erp_sync.models import Connection
from tests.erp_sync.factories import ConnectionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def triggered_tables() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE t.tgname = %s AND NOT t.tgisinternal",
            [TRIGGER],
        )
        return {row[0] for row in cursor.fetchall()}


def refused(sql: str, params=()) -> str:
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as cur:
        cur.execute(sql, params)
    return str(error.value)


def test_every_history_table_and_the_security_events_carry_the_trigger():
    tables = append_only_tables()

    assert len(tables) >= 10  # every audited model of every app
    assert "erp_sync_historicalconnection" in tables
    assert "accounts_securityevent" in tables
    assert set(tables) <= triggered_tables()


def test_update_and_delete_of_a_history_row_are_refused_in_sql():
    connection_row = ConnectionFactory()
    table = Connection.history.model._meta.db_table
    history_id = connection_row.history.latest("history_id").history_id

    assert "append-only: UPDATE refused" in refused(
        f"UPDATE {table} SET history_change_reason = 'rewritten' WHERE history_id = %s",
        [history_id],
    )
    assert "append-only: DELETE refused" in refused(
        f"DELETE FROM {table} WHERE history_id = %s", [history_id]
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        connection_row.history.all().delete()
    assert connection_row.history.filter(history_change_reason="rewritten").count() == 0


def test_only_clearing_the_actor_alone_is_let_through(make_user):
    """Deleting a user sets its history rows' actor to NULL (Django's SET_NULL): allowed;
    any other change riding along is refused."""
    row = ConnectionFactory()
    table = Connection.history.model._meta.db_table
    actor = make_user("short-lived")
    stamp(row, actor=actor, reason="paused by the short-lived user")
    row.paused = True
    row.save()
    history_id = row.history.latest("history_id").history_id
    assert row.history.get(history_id=history_id).history_user_id == actor.pk

    assert "UPDATE refused" in refused(
        f"UPDATE {table} SET history_user_id = NULL, history_change_reason = 'x' "
        "WHERE history_id = %s",
        [history_id],
    )
    actor.delete()

    assert row.history.get(history_id=history_id).history_user_id is None


def test_deleting_a_user_keeps_their_security_events_by_name(make_user, client):
    user = make_user("leaver", "auditor")
    client.force_login(user)  # a sign-in event naming the user
    client.logout()
    user.groups.clear()

    user.delete()

    assert SecurityEvent.objects.filter(username="leaver").count() >= 1
    assert not SecurityEvent.objects.filter(username="leaver", user__isnull=False).exists()


def test_history_inserts_still_work_under_the_trigger():
    connection_row = ConnectionFactory()
    before = connection_row.history.count()

    connection_row.paused_reason = "maintenance"
    connection_row.save()

    assert connection_row.history.count() == before + 1


def test_security_event_rows_are_refused_in_sql(make_user):
    make_user("ann", "auditor")
    event = SecurityEvent.objects.first()

    assert "append-only" in refused(
        "UPDATE accounts_securityevent SET kind = 'x' WHERE id = %s", [event.pk]
    )
    assert "append-only" in refused("DELETE FROM accounts_securityevent WHERE id = %s", [event.pk])


def test_migrate_reinstalls_a_dropped_trigger():
    table = Connection.history.model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {TRIGGER} ON {table}")
    assert table not in triggered_tables()

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    assert table in triggered_tables()
