"""Worker threads keep their database connection between tasks; stale ones are still closed."""

from types import SimpleNamespace

from erp_sync import tasks


class _Fixup:
    def __init__(self, reuse):
        self.worker_fixup = SimpleNamespace(db_reuse_max=reuse)


def test_worker_init_unset_reuse_max_sets_default():
    fixup = _Fixup(None)
    tasks.keep_db_connections(sender=SimpleNamespace(app=SimpleNamespace(_fixups=[fixup])))
    assert fixup.worker_fixup.db_reuse_max == tasks.DB_REUSE_MAX


def test_worker_init_configured_reuse_max_kept():
    fixup = _Fixup(5)
    tasks.keep_db_connections(sender=SimpleNamespace(app=SimpleNamespace(_fixups=[fixup])))
    assert fixup.worker_fixup.db_reuse_max == 5


def test_task_postrun_worker_task_closes_old_connections(monkeypatch):
    calls = []
    monkeypatch.setattr("django.db.close_old_connections", lambda: calls.append(1))
    task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
    tasks.close_stale_db_connections(task=task)
    assert calls == [1]


def test_task_postrun_eager_task_leaves_connection(monkeypatch):
    calls = []
    monkeypatch.setattr("django.db.close_old_connections", lambda: calls.append(1))
    task = SimpleNamespace(request=SimpleNamespace(is_eager=True))
    tasks.close_stale_db_connections(task=task)
    assert calls == []
