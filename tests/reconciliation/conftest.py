import pytest


@pytest.fixture
def stateful_sandbox():
    """Kept for the modules that name it: the sandbox adapter lists each document's state
    itself now (erp_sync.adapters.sandbox_listing), so runs use the real adapter."""


@pytest.fixture
def finance_ops(make_user):
    return make_user("fin", "finance_ops")
