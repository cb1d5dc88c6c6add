import pytest

from tests.reconciliation.factories import StatefulSandbox


@pytest.fixture
def stateful_sandbox(monkeypatch):
    """Runs list through the sandbox adapter plus each document's state (see StatefulSandbox)."""
    monkeypatch.setattr("reconciliation.services.runs.adapter_for", StatefulSandbox)


@pytest.fixture
def finance_ops(make_user):
    return make_user("fin", "finance_ops")
