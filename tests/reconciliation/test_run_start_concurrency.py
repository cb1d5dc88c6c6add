"""Two people starting the same run at the same moment: the database constraint decides."""

import threading

import pytest
from django.db import connection

from reconciliation.errors import ReconciliationError
from reconciliation.models import ReconciliationRun
from reconciliation.services.runs import run_start
from tests.reconciliation.factories import (
    MAY_END,
    MAY_START,
    ConnectionFactory,
    LegalEntityFactory,
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_run_start_same_scope_concurrently_one_run_one_refusal(monkeypatch, finance_ops):
    entity = ConnectionFactory(entity=LegalEntityFactory(code="US01")).entity
    # Hold both starters just before their INSERT, after both read "no active run": only the
    # partial unique constraint can keep the second run out.
    at_insert = threading.Barrier(2, timeout=10)
    original_save = ReconciliationRun.save

    def save(self, *args, **kwargs):
        if kwargs.get("force_insert"):
            at_insert.wait()
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(ReconciliationRun, "save", save)
    monkeypatch.setattr("reconciliation.services.runs.run_enqueue", lambda run_id: None)
    started, refused, other = [], [], []

    def start():
        try:
            started.append(
                run_start(
                    entity=entity, period_start=MAY_START, period_end=MAY_END, actor=finance_ops
                )
            )
        except ReconciliationError as error:
            refused.append(error)
        except Exception as error:
            other.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert other == []
    assert len(started) == 1 and len(refused) == 1
    assert refused[0].code == "run_already_active"
    assert f"run #{started[0].pk}" in refused[0].message
    assert ReconciliationRun.objects.count() == 1
