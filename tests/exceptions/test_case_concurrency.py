"""Two workers raising the same problem at the same moment meet on one case."""

import threading

import pytest
from django.db import connection

from exceptions import services
from exceptions.models import Case
from tests.exceptions.factories import UserFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_open_same_subject_and_kind_concurrently_makes_one_case_with_two_occurrences(
    monkeypatch,
):
    subject = UserFactory()
    # Hold both workers just before their INSERT, so that both have read "no case yet" and the
    # partial unique constraint (not luck) decides: one inserts, the other bumps.
    at_insert = threading.Barrier(2, timeout=10)
    inserts = []
    original_save = Case.save

    def save(self, *args, **kwargs):
        if kwargs.get("force_insert"):
            inserts.append(threading.get_ident())
            at_insert.wait()
        return original_save(self, *args, **kwargs)

    monkeypatch.setattr(Case, "save", save)
    errors = []

    def raise_case():
        try:
            services.case_open_or_bump(
                subject=subject, kind="unknown_customer", severity="high", title="Unknown"
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=raise_case) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(inserts) == 2  # both raced to insert
    case = Case.objects.get(subject_id=str(subject.pk), kind="unknown_customer")
    assert case.occurrences == 2
    assert [row.history_change_reason for row in case.history.order_by("history_id")] == [
        "opened: Unknown",
        "recurred: Unknown",
    ]
