"""On PostgreSQL two tying rules saved side by side: one is stored, the other refused."""

import threading
import time

import pytest
from django.db import connection as db_connection

from erp_sync.errors import RuleTieError
from erp_sync.models import MappingRule
from erp_sync.services import rules
from tests.erp_sync.factories import ConnectionFactory, LegalEntityFactory
from tests.erp_sync.test_mapping_rule_save import rule_data

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_tying_rules_created_side_by_side_store_one(monkeypatch):
    ConnectionFactory(entity=LegalEntityFactory(code="US01"))
    checked = rules._check_tie

    def slow_check(rule, *, exclude_pk):
        checked(rule, exclude_pk=exclude_pk)
        time.sleep(0.3)  # both saves have checked before either commits, unless they take turns

    monkeypatch.setattr(rules, "_check_tie", slow_check)
    barrier = threading.Barrier(2)
    outcomes: list = [None, None]

    def create(index: int) -> None:
        try:
            barrier.wait()
            outcomes[index] = rules.mapping_rule_create(
                data=rule_data(name=f"US SaaS revenue {index}"), actor=None
            ).rule
        except Exception as error:  # asserted below
            outcomes[index] = error
        finally:
            db_connection.close()

    threads = [threading.Thread(target=create, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    refused = [o for o in outcomes if isinstance(o, RuleTieError)]
    stored = [o for o in outcomes if isinstance(o, MappingRule)]
    assert len(stored) == 1 and len(refused) == 1, outcomes
    assert f"(id {stored[0].pk})" in refused[0].message
    assert MappingRule.objects.filter(is_active=True).count() == 1
